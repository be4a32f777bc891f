// The 5-step funnel report, a people list and a correlation on both stores, side by side, over
// the same synthetic events (5 per visitor, 28 days). Both merge per-day aggregates the funnel engine keeps as events
// arrive: SQLite's in its file and memory, ClickHouse's in rows its materializer writes (here
// this process holds the lease). BENCH_REPORT_VISITORS sets the sizes (default 200,000
// visitors: 1M events; ClickHouse at 10M is bench/clickhouseScale.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { clickHouseServerBinary, startClickHouse } from '../test-support/clickhouse.js';
import { SqliteStore } from '../ingest/src/store/sqlite/index.js';
import { ClickHouseStore } from '../ingest/src/store/clickhouse/index.js';
import type { Store } from '../ingest/src/store/types.js';
import type { FunnelReport } from '../ingest/src/funnel/report.js';
import { DAY_MS, utcDay } from '../ingest/src/time.js';
import { DEAL_FUNNEL, fillStore, shopWalk } from './synthetic.js';
import { correlationQuestion, rankFactors } from '../ingest/src/funnel/people.js';

const SITE = 'shop.example.com';
const SIZES = (process.env.BENCH_REPORT_VISITORS ?? '200000').split(',').map(Number);
/** Reports timed per store and size (fewer at 10M events, where one takes long). */
const runsFor = (visitors: number) => (visitors > 500_000 ? 3 : 5);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const seconds = (ms: number) => (ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`);

interface Measured {
  events: number;
  fillMs: number;
  /** Median report latency, plain and broken down by channel. */
  reportMs: number;
  breakdownMs: number;
  /** Median latency of a page of 50 people (dropped at step 2), of the page after it, and of the correlation. */
  peopleMs: number;
  /** The first page's latency, before anything was made for it (SQLite makes the open windows' rows then). */
  firstPeopleMs: number;
  nextPageMs: number;
  correlationMs: number;
  people: number;
  factors: string;
  report: FunnelReport;
}

async function measure(store: Store, visitors: number): Promise<Measured> {
  await store.createSite({ domain: SITE, origins: [], allowedParams: [], createdAt: 0 });
  await store.putFunnel({ site: SITE, id: 'deal', definition: DEAL_FUNNEL, createdAt: 0, updatedAt: 0 });
  const filling = performance.now();
  const events = await fillStore(store, SITE, visitors, 28, shopWalk);
  // Written, and counted by the funnel (on ClickHouse: materialized).
  await store.settled();
  const fillMs = performance.now() - filling;
  const now = Date.now();
  const range = { fromMs: Date.parse(`${utcDay(now - 28 * DAY_MS)}T00:00:00Z`), toMs: Date.parse(`${utcDay(now)}T00:00:00Z`) + DAY_MS };
  const timed = async (breakdown?: 'channel') => {
    const took: number[] = [];
    let report: FunnelReport | null = null;
    for (let i = 0; i < runsFor(visitors); i++) {
      const started = performance.now();
      report = await store.funnelReport(SITE, 'deal', range, { now, breakdown });
      took.push(performance.now() - started);
    }
    return { ms: median(took), report: report! };
  };
  const plain = await timed();
  const byChannel = await timed('channel');
  const median5 = async <T>(work: () => Promise<T>) => {
    const took: number[] = [];
    let result: T | undefined;
    for (let i = 0; i < runsFor(visitors); i++) {
      const started = performance.now();
      result = await work();
      took.push(performance.now() - started);
    }
    return { ms: median(took), first: took[0], result: result! };
  };
  const query = { step: 2, status: 'dropped' as const, stepCount: DEAL_FUNNEL.steps.length, now, limit: 50, after: null };
  const first = await median5(() => store.funnelPeople(SITE, 'deal', range, query));
  const last = first.result!.rows[first.result!.rows.length - 1];
  const next = await median5(() => store.funnelPeople(SITE, 'deal', range, { ...query, after: { start: last.start, unit: last.unit, opensAt: last.opensAt } }));
  const correlation = await median5(() => store.funnelFactors(SITE, 'deal', range, correlationQuestion(undefined, DEAL_FUNNEL.steps.length, now)));
  const top = rankFactors(correlation.result!).slice(0, 2).map((f) => `${f.kind} ${f.value} ×${f.rate_ratio}`).join(', ');
  return {
    events, fillMs, reportMs: plain.ms, breakdownMs: byChannel.ms, report: plain.report,
    peopleMs: first.ms, firstPeopleMs: first.first, nextPageMs: next.ms, correlationMs: correlation.ms, people: first.result!.rows.length, factors: top,
  };
}

/** Prints each size's lines as soon as they are measured (the 10M-event size takes minutes). */
export async function storesReportBenchmark(print: (line: string) => void): Promise<void> {
  if (!clickHouseServerBinary()) return print('Report on both stores: skipped, clickhouse-server is not installed');
  const clickhouse = await startClickHouse();
  print(`Funnel report, 5 steps, on both stores over the same events (median of 5 runs, 3 at 10M events)`);
  try {
    for (const visitors of SIZES) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-stores-report-'));
      const sqlite = new SqliteStore(path.join(dir, 'bench.db'));
      const s = await measure(sqlite, visitors);
      await sqlite.close();
      fs.rmSync(dir, { recursive: true, force: true });

      const ch = await ClickHouseStore.open(clickhouse.databaseUrlFor(`report_${visitors}`));
      const c = await measure(ch, visitors);
      await ch.close();

      const same = JSON.stringify(s.report.steps.map((step) => step.entered)) === JSON.stringify(c.report.steps.map((step) => step.entered));
      print(`${s.events} events, ${visitors} visitors:`);
      print(`  SQLite     report ${seconds(s.reportMs)}, by channel ${seconds(s.breakdownMs)} (written and counted in ${seconds(s.fillMs)})`);
      print(`  ClickHouse report ${seconds(c.reportMs)}, by channel ${seconds(c.breakdownMs)} (written and materialized in ${seconds(c.fillMs)})`);
      for (const [name, m] of [['SQLite    ', s], ['ClickHouse', c]] as const) {
        print(`  ${name} people (dropped at step 2, ${m.people} of a page of 50) ${seconds(m.peopleMs)} (first ${seconds(m.firstPeopleMs)}), next page ${seconds(m.nextPageMs)}; ` +
          `correlation ${seconds(m.correlationMs)} (top: ${m.factors})`);
      }
      print(`  ratio ClickHouse / SQLite: ${(c.reportMs / s.reportMs).toFixed(0)}×; entered per step ${JSON.stringify(c.report.steps.map((step) => step.entered))}${same ? ', equal on both' : ', DIFFERENT from SQLite ' + JSON.stringify(s.report.steps.map((step) => step.entered))}`);
    }
  } finally {
    await clickhouse.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await storesReportBenchmark((line) => console.log(line));
}
