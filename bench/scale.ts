// The embedded store at scale, measured on real collector processes (bench/servers/collector.ts,
// the app `npm start` runs), each pinned to core 0:
// - store A: 10M events over 60 days from 2M visitors (the shop walk), the 7-day deal funnel
//   defined before they are written, so it is materialized as live traffic would be;
// - store B: A plus 10M older events (60 to 120 days old, outside every window), written in time
//   order, oldest first;
// - an empty store with the same site and funnel, beside them.
// Memory after a start, time to the first accepted event and the first exact report after a
// clean stop (snapshot) and after kill -9, report latency, ingestion beside the empty store,
// and a back-fill with ingestion during it. Every figure is measured side by side in this run.
//
// BENCH_SCALE_VISITORS sets the size (default 2,000,000 visitors: 10M events; B twice that);
// BENCH_SCALE_ROUNDS the restarts per store (default 3); BENCH_SECONDS each load's length.
// BENCH_SCALE_DIR keeps the written stores in that directory and reuses them on the next run of
// the same size (for iterating: the measurements add events and restarts to them).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../ingest/src/store/sqlite/index.js';
import type { StoredEvent } from '../ingest/src/event.js';
import { DAY_MS } from '../ingest/src/time.js';
import { drive, rssMiB, type LoadResult } from './load.js';
import { requestHeaders, snippetEvent } from './traffic.js';
import { DEAL_FUNNEL, shopWalk, visitorOf } from './synthetic.js';
import {
  SITE, lastDays, loadAverage, median, met, millis, peakRssMiB, seconds, sleep, sourceVersion, startCollector, timed, until,
  type Collector, type ReportBody,
} from './collectorClient.js';

const VISITORS = Number(process.env.BENCH_SCALE_VISITORS ?? 2_000_000);
const ROUNDS = Number(process.env.BENCH_SCALE_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const KEEP_DIR = process.env.BENCH_SCALE_DIR;
const SPAN_DAYS = 60;
/** Reports timed per store and start (with and without breakdown). */
const REPORTS = 11;
const CONNECTIONS = 50;
/** The funnel PUT for the back-fill: another definition than the deal funnel (no signup step, a cart of any deal). */
const BACKFILL_FUNNEL = {
  name: 'Deal to purchase',
  window: '7d',
  steps: [
    { name: 'Landing', event: 'pageview', path: '/' },
    { name: 'Deal detail', event: 'pageview', path: '/deals/*' },
    { name: 'Cart', event: 'add_to_cart' },
    { name: 'Purchase', event: 'purchase' },
  ],
};

/** Visitors first..first+count, their visits starting evenly over [fromMs, toMs − 1 day). */
interface Part {
  first: number;
  count: number;
  fromMs: number;
  toMs: number;
}

interface Written {
  events: number;
  ms: number;
}

type Print = (line: string) => void;

/** Writes the parts in order through the store, 10,000 events a transaction, as a collector's group commits would. */
async function writeStore(file: string, parts: Part[]): Promise<Written> {
  const store = new SqliteStore(file);
  await store.createSite({ domain: SITE, origins: ['https://shop.example.com'], allowedParams: [], createdAt: 0 });
  await store.putFunnel({ site: SITE, id: 'deal', definition: DEAL_FUNNEL, createdAt: 0, updatedAt: 0 });
  const started = performance.now();
  let batch: StoredEvent[] = [];
  let events = 0;
  const flush = async () => {
    await store.write({ events: batch, bots: [] });
    events += batch.length;
    batch = [];
    // Lets the funnels' background tick run between commits, as it does between a collector's.
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  for (const part of parts) {
    const span = part.toMs - part.fromMs - DAY_MS;
    for (let i = 0; i < part.count; i++) {
      const n = part.first + i;
      for (const event of shopWalk(visitorOf(SITE, n, part.fromMs + Math.floor((i / part.count) * span)), n)) {
        batch.push(event);
        if (batch.length === 10_000) await flush();
      }
    }
  }
  await flush();
  await store.settled();
  await store.close();
  return { events, ms: performance.now() - started };
}

async function emptyStore(file: string): Promise<void> {
  const store = new SqliteStore(file);
  await store.createSite({ domain: SITE, origins: ['https://shop.example.com'], allowedParams: [], createdAt: 0 });
  await store.putFunnel({ site: SITE, id: 'deal', definition: DEAL_FUNNEL, createdAt: 0, updatedAt: 0 });
  await store.close();
}

/** The files of the three stores, written now or (BENCH_SCALE_DIR) found from an earlier run of this size. */
async function prepareStores(dir: string, print: Print): Promise<{ files: Record<StoreName, string>; a: Written; b: Written }> {
  const files = { empty: path.join(dir, 'empty.db'), A: path.join(dir, 'a.db'), B: path.join(dir, 'b.db') };
  const manifestFile = path.join(dir, 'scale.json');
  if (fs.existsSync(manifestFile)) {
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { visitors: number; a: Written; b: Written };
    if (manifest.visitors === VISITORS) {
      print(`stores reused from ${dir} (written by an earlier run; measurements since have added events to them)`);
      return { files, ...manifest };
    }
  }
  for (const file of Object.values(files)) fs.rmSync(file, { force: true });
  const end = Date.now();
  const recent: Part = { first: 0, count: VISITORS, fromMs: end - SPAN_DAYS * DAY_MS, toMs: end };
  const older: Part = { first: VISITORS, count: VISITORS, fromMs: end - 2 * SPAN_DAYS * DAY_MS, toMs: end - SPAN_DAYS * DAY_MS };
  await emptyStore(files.empty);
  const a = await writeStore(files.A, [recent]);
  print(`written A: ${a.events.toLocaleString('en')} events in ${seconds(a.ms)} (${Math.round(a.events / (a.ms / 1000)).toLocaleString('en')} events/s, with the funnel materialized as they came), load average ${loadAverage()}`);
  const b = await writeStore(files.B, [older, recent]);
  print(`written B: ${b.events.toLocaleString('en')} events in ${seconds(b.ms)} (${Math.round(b.events / (b.ms / 1000)).toLocaleString('en')} events/s), load average ${loadAverage()}`);
  fs.writeFileSync(manifestFile, JSON.stringify({ visitors: VISITORS, a, b }));
  return { files, a, b };
}

type StoreName = 'empty' | 'A' | 'B';
type StartKind = 'clean' | 'crash';

interface StartFigures {
  /** From spawn to the first 202 for POST /api/event. */
  acceptMs: number;
  /** From spawn to the first 200 of the deal funnel's report. */
  reportMs: number;
  /** VmRSS 5 s after that report (the warm-up's garbage mostly still held), 30 s after it (settled), and VmHWM (the peak so far). */
  rssMiB: number;
  settledMiB: number;
  peakMiB: number;
}

/** A report's numbers that do not depend on the clock (in flight and exits do): entered per step, converted, revenue. */
function stableNumbers(report: ReportBody): string {
  return JSON.stringify({ entered: report.steps.map((step) => step.entered), converted: report.converted, revenue: report.revenue });
}

function hasSnapshot(file: string): boolean {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM funnel_snapshot').get() as { n: number }).n > 0;
  } finally {
    db.close();
  }
}

function countEvents(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Starts a collector on `file` and measures the start; returns it running. */
async function measuredStart(file: string): Promise<{ collector: Collector; figures: StartFigures }> {
  const collector = await startCollector(file, 0);
  const range = lastDays(28);
  const [accepted, reported] = await Promise.all([
    until(async () => (await collector.api.postSnippetEvent()) === 202, 60_000, 'first 202', 10),
    until(async () => (await collector.api.report('deal', range)).status === 200, 300_000, 'first report'),
  ]);
  const pid = collector.process.pid!;
  await sleep(5_000);
  const early = rssMiB(pid);
  // V8 gives the warm-up's garbage back once the process is idle for a while (its memory reducer).
  await sleep(25_000);
  return {
    collector,
    figures: {
      acceptMs: accepted - collector.spawnedAt, reportMs: reported - collector.spawnedAt, rssMiB: early, settledMiB: rssMiB(pid), peakMiB: peakRssMiB(pid),
    },
  };
}

/** Median report latency over `count` reports, alternating plain and by channel. */
async function reportLatencies(collector: Collector, count: number, plain: number[], byChannel: number[]): Promise<void> {
  const range = lastDays(28);
  for (let i = 0; i < count; i++) {
    const [a, plainMs] = await timed(() => collector.api.report('deal', range));
    const [b, channelMs] = await timed(() => collector.api.report('deal', range, 'channel'));
    if (a.status !== 200 || b.status !== 200) throw new Error(`report answered ${a.status} / ${b.status}`);
    plain.push(plainMs);
    byChannel.push(channelMs);
  }
}

const mib = (value: number) => `${value.toFixed(0)} MiB`;

function loadLine(r: LoadResult, perRequest: number): string {
  return `${Math.round(r.requestsPerSecond * perRequest).toLocaleString('en')} events/s (p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, non-2xx ${r.non2xx})`;
}

export async function scaleBenchmark(print: Print): Promise<void> {
  const dir = KEEP_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-scale-'));
  fs.mkdirSync(dir, { recursive: true });
  const running = new Set<Collector>();
  const track = (collector: Collector) => { running.add(collector); return collector; };
  try {
    print(`Embedded store at scale: A = ${VISITORS.toLocaleString('en')} visitors' events over ${SPAN_DAYS} days (shop walk), ` +
      `B = A + as many events 60 to 120 days old, written oldest first; the 7-day deal funnel defined before the writes. ` +
      `Load average at start: ${loadAverage()}; ${await sourceVersion()}`);
    const { files, a, b } = await prepareStores(dir, print);
    const eventsIn = { empty: 0, A: a.events, B: b.events };

    // a–d: each store started after a clean stop, then after kill -9, in alternating rounds.
    print(`Collectors on core 0, timed from spawn (tsx start included); ${ROUNDS} rounds of: clean start, ${REPORTS} reports ` +
      `(plain and by channel), kill -9, start again, clean stop; per store in turn (empty, A, B)`);
    const starts: Record<StoreName, Record<StartKind, StartFigures[]>> = {
      empty: { clean: [], crash: [] }, A: { clean: [], crash: [] }, B: { clean: [], crash: [] },
    };
    const latency = { A: { plain: [] as number[], channel: [] as number[] }, B: { plain: [] as number[], channel: [] as number[] } };
    const numbers = new Map<string, Set<string>>();
    const notes: string[] = [];
    /** Starts after kill -9 that found a snapshot (kept as windows close, older than the last events). */
    const snapshotsBeforeCrashStart = { empty: 0, A: 0, B: 0 };
    // Days before today: the events this bench sends (at now) are not in it, so it must not change.
    const settledRange = { from: lastDays(29).from, to: lastDays(2).from };
    const remember = async (name: StoreName, collector: Collector) => {
      const report = await collector.api.report('deal', settledRange);
      if (report.status !== 200 || !report.body) throw new Error(`report on ${name} answered ${report.status}`);
      if (report.body.backfill !== null) notes.push(`${name}: a report after a start carried backfill ${JSON.stringify(report.body.backfill)}`);
      const key = name === 'empty' ? 'empty' : 'A and B';
      numbers.set(key, (numbers.get(key) ?? new Set()).add(stableNumbers(report.body)));
    };
    for (let round = 1; round <= ROUNDS; round++) {
      for (const name of ['empty', 'A', 'B'] as const) {
        if (!hasSnapshot(files[name])) notes.push(`round ${round}, ${name}: no snapshot in the file before the clean start`);
        const clean = await measuredStart(files[name]);
        track(clean.collector);
        starts[name].clean.push(clean.figures);
        if (name !== 'empty') await reportLatencies(clean.collector, REPORTS, latency[name].plain, latency[name].channel);
        await remember(name, clean.collector);
        await clean.collector.crash();
        running.delete(clean.collector);
        if (hasSnapshot(files[name])) snapshotsBeforeCrashStart[name]++;
        const crash = await measuredStart(files[name]);
        track(crash.collector);
        starts[name].crash.push(crash.figures);
        await remember(name, crash.collector);
        await crash.collector.stop();
        running.delete(crash.collector);
        print(`  round ${round}, ${name}: clean start 202 ${seconds(clean.figures.acceptMs)}, report ${seconds(clean.figures.reportMs)}, ` +
          `RSS ${mib(clean.figures.rssMiB)} then ${mib(clean.figures.settledMiB)} (peak ${mib(clean.figures.peakMiB)}); after kill -9: 202 ${seconds(crash.figures.acceptMs)}, ` +
          `report ${seconds(crash.figures.reportMs)}, RSS ${mib(crash.figures.rssMiB)} then ${mib(crash.figures.settledMiB)} (peak ${mib(crash.figures.peakMiB)}); load average ${loadAverage()}`);
      }
    }
    const med = (name: StoreName, kind: StartKind, field: keyof StartFigures) => median(starts[name][kind].map((s) => s[field]));
    for (const kind of ['clean', 'crash'] as const) {
      const label = kind === 'clean' ? 'after a clean stop' : 'after kill -9';
      const rssA = med('A', kind, 'settledMiB');
      const rssB = med('B', kind, 'settledMiB');
      const [peakA, peakB] = [med('A', kind, 'peakMiB'), med('B', kind, 'peakMiB')];
      print(`a. RSS 30 s after the first report, ${label}: empty ${mib(med('empty', kind, 'settledMiB'))}, A ${mib(rssA)}, B ${mib(rssB)}, ` +
        `B/A ${(rssB / rssA).toFixed(2)} — target ≤ 400 MiB and B within 10% of A: ${met(Math.max(rssA, rssB) <= 400 && Math.abs(rssB / rssA - 1) <= 0.1)}; ` +
        `5 s after it: empty ${mib(med('empty', kind, 'rssMiB'))}, A ${mib(med('A', kind, 'rssMiB'))}, B ${mib(med('B', kind, 'rssMiB'))}; ` +
        `peak during warm-up: empty ${mib(med('empty', kind, 'peakMiB'))}, A ${mib(peakA)}, B ${mib(peakB)} — ${Math.max(peakA, peakB) <= 400 ? 'within' : 'OVER'} 400 MiB`);
    }
    for (const kind of ['clean', 'crash'] as const) {
      const label = kind === 'clean' ? 'after a clean stop' : 'after kill -9';
      const empty = med('empty', kind, 'acceptMs');
      const [accA, accB] = [med('A', kind, 'acceptMs'), med('B', kind, 'acceptMs')];
      print(`b. spawn to first 202, ${label}: empty ${seconds(empty)}, A ${seconds(accA)}, B ${seconds(accB)} ` +
        `(A +${seconds(accA - empty)}, B +${seconds(accB - empty)}) — target ≤ empty + 2 s: ${met(Math.max(accA, accB) - empty <= 2_000)}`);
    }
    for (const kind of ['clean', 'crash'] as const) {
      const label = kind === 'clean' ? 'after a clean stop' : 'after kill -9';
      const [repA, repB] = [med('A', kind, 'reportMs'), med('B', kind, 'reportMs')];
      print(`c. spawn to first exact report (200), ${label}: empty ${seconds(med('empty', kind, 'reportMs'))}, A ${seconds(repA)}, ` +
        `B ${seconds(repB)} — target ≤ 10 s: ${met(Math.max(repA, repB) <= 10_000)}`);
    }
    const [plainA, plainB] = [median(latency.A.plain), median(latency.B.plain)];
    const [channelA, channelB] = [median(latency.A.channel), median(latency.B.channel)];
    print(`d. report latency, last 28 days, median of ${latency.A.plain.length} per store: A ${millis(plainA)}, B ${millis(plainB)} — target ≤ 50 ms: ` +
      `${met(Math.max(plainA, plainB) <= 50)}; by channel: A ${millis(channelA)}, B ${millis(channelB)} — target ≤ 100 ms: ${met(Math.max(channelA, channelB) <= 100)}`);
    const ab = numbers.get('A and B');
    print(`   entries per step up to yesterday ${ab?.size === 1 ? `equal on A and B, after every start: ${[...ab][0]}` : `DIFFER between starts or stores: ${[...(ab ?? [])].join(' / ')}`}`);
    print(`   starts after kill -9 that found a snapshot (one is kept each time windows close): empty ${snapshotsBeforeCrashStart.empty}, ` +
      `A ${snapshotsBeforeCrashStart.A}, B ${snapshotsBeforeCrashStart.B} of ${ROUNDS}; after a clean stop there always is one, taken at the stop`);
    for (const note of notes) print(`   note: ${note}`);

    // e and f on A beside the empty store (same site and funnel), both running (clean starts).
    const empty = track(await startCollector(files.empty, 0));
    const collectorA = track(await startCollector(files.A, 0));
    for (const collector of [empty, collectorA]) {
      await until(async () => (await collector.api.report('deal', lastDays(28))).status === 200, 300_000, 'report before the load');
    }
    const headers = () => requestHeaders(5_000);
    const modes = [
      { label: 'single events', perRequest: 1, pool: 20_000, body: () => JSON.stringify(snippetEvent()) },
      { label: 'batches of 100', perRequest: 100, pool: 500, body: () => JSON.stringify(Array.from({ length: 100 }, () => snippetEvent())) },
    ];
    const single = { seconds: SECONDS, connections: CONNECTIONS, pool: 20_000, body: modes[0].body, headers };

    // f first, while A holds what was written (e adds millions of events at now).
    const backfill = async (id: string, name: string) => {
      const putAt = performance.now();
      const put = await collectorA.api.putFunnel(id, { ...BACKFILL_FUNNEL, name });
      if (put.status !== 201) throw new Error(`PUT of the back-filled funnel answered ${put.status}`);
      const finished = until(async () => {
        const report = await collectorA.api.report(id, lastDays(28));
        return report.status === 200 && report.body?.backfill === null;
      }, 3_600_000, 'back-fill', 250);
      return { putAt, answeredAt: performance.now(), finished };
    };
    const storedA = countEvents(files.A);
    const quiet = await backfill('backfill-quiet', BACKFILL_FUNNEL.name);
    const quietMs = (await quiet.finished) - quiet.putAt;
    await collectorA.api.deleteFunnel('backfill-quiet');
    const quietRate = storedA / (quietMs / 1000);
    print(`f. back-fill of a new 4-step funnel on the collector running A (${storedA.toLocaleString('en')} events stored), from the PUT to a report ` +
      `without \`backfill\`: ${seconds(quietMs)} (the PUT answered in ${seconds(quiet.answeredAt - quiet.putAt)}), ` +
      `${Math.round(quietRate).toLocaleString('en')} events/s — target ≥ 100,000 events/s (1M per 10 s): ${met(quietRate >= 100_000)}; load average ${loadAverage()}`);
    const before = await drive(collectorA, single);
    const storedBefore = countEvents(files.A);
    const loaded = await backfill('backfill-loaded', `${BACKFILL_FUNNEL.name} (again)`);
    let backfillEnd = 0;
    void loaded.finished.then((at) => { backfillEnd = at; }, () => undefined);
    const during = await drive(collectorA, single);
    const driveEnd = performance.now();
    await loaded.finished;
    const loadedMs = backfillEnd - loaded.putAt;
    await collectorA.api.deleteFunnel('backfill-loaded');
    print(`   the same definition renamed, with single events sent from the PUT's answer on: back-fill ${seconds(loadedMs)} ` +
      `(${Math.round(storedBefore / (loadedMs / 1000)).toLocaleString('en')} events/s); single events on A ${loadLine(during, 1)} during it ` +
      `(${driveEnd <= backfillEnd ? 'the load ended before the back-fill' : `the back-fill ended ${seconds(driveEnd - backfillEnd)} before the load`}), ` +
      `${loadLine(before, 1)} just before it: ratio ${(during.requestsPerSecond / before.requestsPerSecond).toFixed(2)} ` +
      `(the history worker shares the collector's core); load average ${loadAverage()}`);

    // e: alternating rounds on the empty store and on A.
    for (const collector of [empty, collectorA]) await drive(collector, { ...single, seconds: 3 });
    print(`e. ingestion, ${CONNECTIONS} connections, 5,000 visitors, collector on core 0, load on core 1, ${ROUNDS} alternating rounds of ${SECONDS} s after a 3 s warm-up`);
    for (const mode of modes) {
      const ratios: number[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const load = { seconds: SECONDS, connections: CONNECTIONS, pool: mode.pool, body: mode.body, headers };
        const e = await drive(empty, load);
        const x = await drive(collectorA, load);
        ratios.push(x.requestsPerSecond / e.requestsPerSecond);
        print(`   round ${round}, ${mode.label}: empty store ${loadLine(e, mode.perRequest)}; A ${loadLine(x, mode.perRequest)}; load average ${loadAverage()}`);
      }
      print(`   ${mode.label}: A / empty median ${median(ratios).toFixed(2)} (rounds ${ratios.map((r) => r.toFixed(2)).join(', ')}) — target ≥ 0.90: ${met(median(ratios) >= 0.9)}`);
    }
    for (const collector of [empty, collectorA]) {
      await collector.stop();
      running.delete(collector);
    }
    print(`Load average at the end: ${loadAverage()}; stores ${KEEP_DIR ? `kept in ${KEEP_DIR}` : 'deleted'}; events ${JSON.stringify(eventsIn)}`);
  } finally {
    for (const collector of running) await collector.stopWithin(10_000);
    if (!KEEP_DIR) fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await scaleBenchmark((line) => console.log(line));
}
