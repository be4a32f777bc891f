// Funnel reports on the embedded store: 1M events from 200k visitors, a 5-step funnel.
// Printed beside the time a plain scan of the raw events takes on the same file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteStore } from '../ingest/src/store/sqlite/index.js';
import { DAY_MS, utcDay } from '../ingest/src/time.js';
import { DEAL_FUNNEL as funnel, fillStore, shopWalk } from './synthetic.js';

const VISITORS = Number(process.env.BENCH_VISITORS ?? 200_000);
const TARGET_EVENTS = VISITORS * 5;
const SITE = 'shop.example.com';

function time<T>(fn: () => T): [T, number] {
  const started = performance.now();
  const result = fn();
  return [result, performance.now() - started];
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await fn();
  return [result, performance.now() - started];
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ms = (value: number) => `${value.toFixed(value < 10 ? 1 : 0)} ms`;

export async function reportBenchmark(): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-report-bench-'));
  const file = path.join(dir, 'report.db');
  const out: string[] = [];
  const end = Date.now();
  const span = 28 * DAY_MS;

  // Fill: visitors spread over four weeks, written in large transactions.
  let store = new SqliteStore(file);
  await store.createSite({ domain: SITE, origins: [], allowedParams: [], createdAt: 0 });
  const events = await fillStore(store, SITE, VISITORS, 28, shopWalk);
  await store.close();
  out.push(`Funnel report, ${events} events from ${VISITORS} visitors (target ${TARGET_EVENTS}), 5 steps, 28 days, embedded SQLite`);

  // Opening the file reads no history; the new funnel is back-filled over it, in the background
  // (its PUT waits up to 3 s), until the store has settled.
  const rssBefore = process.memoryUsage().rss;
  let opened: number;
  [store, opened] = time(() => new SqliteStore(file));
  const [, backfill] = await timeAsync(async () => {
    await store.putFunnel({ site: SITE, id: 'deal', definition: funnel, createdAt: 0, updatedAt: 0 });
    await store.settled();
  });
  const rssAfter = process.memoryUsage().rss;

  const range = { fromMs: Date.parse(`${utcDay(end - span)}T00:00:00Z`), toMs: Date.parse(`${utcDay(end)}T00:00:00Z`) + DAY_MS };
  const latencies: number[] = [];
  let entered = 0;
  for (let i = 0; i < 9; i++) {
    const [report, took] = await timeAsync(() => store.funnelReport(SITE, 'deal', range, { now: end }));
    latencies.push(took);
    entered = report!.steps[0].entered;
  }
  const breakdownLatencies: number[] = [];
  for (let i = 0; i < 5; i++) {
    breakdownLatencies.push((await timeAsync(() => store.funnelReport(SITE, 'deal', range, { now: end, breakdown: 'channel' })))[1]);
  }

  // The floor a report computed from raw events could not go below: reading them once.
  const scan = store.db.prepare('SELECT visitor, ts, name, path, props FROM events WHERE site = ? AND ts >= ? AND ts < ?');
  const scans: number[] = [];
  for (let i = 0; i < 3; i++) {
    scans.push(time(() => { let n = 0; for (const _row of scan.iterate(SITE, range.fromMs, range.toMs)) n++; return n; })[1]);
  }
  const countScans: number[] = [];
  const countSql = store.db.prepare('SELECT count(DISTINCT visitor) AS n FROM events WHERE site = ? AND ts >= ? AND ts < ?');
  for (let i = 0; i < 3; i++) countScans.push(time(() => countSql.get(SITE, range.fromMs, range.toMs))[1]);
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });

  out.push(`report latency, median of 9: ${ms(median(latencies))} (target ≤ 100 ms); with breakdown=channel, median of 5: ${ms(median(breakdownLatencies))}; entered step 1: ${entered}`);
  out.push(`plain scan of the raw events into Node, median of 3: ${ms(median(scans))}; SQL count(DISTINCT visitor) over them: ${ms(median(countScans))}`);
  out.push(`ratio report / plain scan: ${(median(latencies) / median(scans)).toFixed(3)}`);
  out.push(`opening the store (reads no history): ${ms(opened)}; back-fill of a new funnel over the ${events} events, to a whole report: ${ms(backfill)} (target ≤ 10 s)`);
  out.push(`process RSS grew by ${((rssAfter - rssBefore) / 2 ** 20).toFixed(0)} MiB (the open windows' journeys, the page cache, the back-fill's worker)`);
  return out;
}
