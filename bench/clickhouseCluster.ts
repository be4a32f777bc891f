// The ClickHouse cluster beside one ClickHouse server and SQLite, in one run:
// a. acknowledged events/s of one collector (pinned to core 0) on each store, single events and
//    batches of 100, with the load generator and the ClickHouse processes on core 1; on the
//    cluster also with a spool (SPOOL_DIR);
// b. on one server and on the cluster (test-support/clickhouseCluster.ts: two shards, the first
//    with two replicas, and ZooKeeper, all on this machine), the shop walk written through the
//    store (BENCH_CLUSTER_VISITORS visitors, default 200,000: about a million events), then a
//    collector's back-fill of the 7-day deal funnel, its report latency and the stats latency.
// Every ClickHouse process of the cluster shares the same two cores, so the cluster figures
// are what the cluster costs here, not what three machines would give.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { clickHouseServerBinary, startClickHouse } from '../test-support/clickhouse.js';
import { canRunCluster, startClickHouseCluster } from '../test-support/clickhouseCluster.js';
import { ClickHouseStore } from '../ingest/src/store/clickhouse/index.js';
import { drive, startServer, type LoadResult } from './load.js';
import { requestHeaders, snippetEvent } from './traffic.js';
import { DEAL_FUNNEL, fillStore, shopWalk } from './synthetic.js';
import { SITE, lastDays, median, millis, seconds, startCollector, timed, until } from './collectorClient.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const VISITORS = Number(process.env.BENCH_CLUSTER_VISITORS ?? 200_000);
const SPAN_DAYS = 30;
const REPORTS = 11;

type Print = (line: string) => void;

const describe = (r: LoadResult, perRequest: number) =>
  `${Math.round(r.requestsPerSecond * perRequest)} events/s (p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, non-2xx ${r.non2xx})`;

async function ingestion(label: string, target: string, print: Print, env: Record<string, string> = {}): Promise<void> {
  const headers = () => requestHeaders(20_000);
  const single = { connections: 50, pool: 20_000, body: () => JSON.stringify(snippetEvent()), headers };
  const batch = { connections: 50, pool: 500, body: () => JSON.stringify(Array.from({ length: 100 }, () => snippetEvent())), headers };
  const collector = await startServer('bench/servers/collector.ts', [target], 0, env);
  await drive(collector, { ...single, seconds: 3 });
  const s = await drive(collector, { ...single, seconds: SECONDS });
  const b = await drive(collector, { ...batch, seconds: SECONDS });
  await collector.stop();
  print(`${label.padEnd(28)} single events: ${describe(s, 1)}; batches of 100: ${describe(b, 100)}`);
}

/** Writes the shop walk through a store on `databaseUrl`, then times a collector's back-fill, reports and stats there. */
export async function reports(label: string, databaseUrl: string, print: Print): Promise<void> {
  const store = await ClickHouseStore.open(databaseUrl, { materialize: false });
  await store.createSite({ domain: SITE, origins: [`https://${SITE}`], allowedParams: [], createdAt: Date.now() });
  const [written, fillMs] = await timed(() => fillStore(store, SITE, VISITORS, SPAN_DAYS, shopWalk));
  await store.close();
  const filledAt = Date.now();
  const collector = await startCollector(databaseUrl, 0);
  try {
    const range = lastDays(SPAN_DAYS);
    const saved = performance.now();
    const put = await collector.api.putFunnel('deal', DEAL_FUNNEL);
    if (put.status >= 300) throw new Error(`saving the funnel: ${put.status}`);
    // The collector is the database's first materializer: it takes the events written before it
    // started a step at a time (100,000 arrivals each), so the report is complete once the
    // back-fill is done and the report is fresh up to the end of the fill, not at the back-fill's end.
    const done = await until(async () => {
      const body = (await collector.api.report('deal', range)).body;
      return body?.backfill === null && body.fresh_until !== null && body.fresh_until >= filledAt;
    }, 60 * 60_000, 'the back-fill and the catch-up', 500);
    const funnelTimes: number[] = [];
    let entered = 0;
    for (let i = 0; i < REPORTS; i++) {
      const [reply, ms] = await timed(() => collector.api.report('deal', range));
      entered = reply.body?.steps[0]?.entered ?? 0;
      funnelTimes.push(ms);
    }
    const statsTimes: number[] = [];
    let statsFailure = '';
    for (let i = 0; i < 5 && !statsFailure; i++) {
      const [reply, ms] = await timed(() => collector.api.request('GET', `/api/sites/${SITE}/stats?from=${range.from}&to=${range.to}`));
      // Said, not thrown: the figures of the other store still come.
      if (reply.status !== 200) statsFailure = `stats answered ${reply.status} after ${millis(ms)}`;
      statsTimes.push(ms);
    }
    print(`${label.padEnd(28)} ${written.toLocaleString('en')} events written in ${seconds(fillMs)} (${Math.round(written / (fillMs / 1000)).toLocaleString('en')}/s); ` +
      `back-fill and catch-up ${seconds(done - saved)}; funnel report median ${millis(median(funnelTimes))} (${entered.toLocaleString('en')} entered); ` +
      (statsFailure || `stats median ${millis(median(statsTimes))}`));
  } finally {
    await collector.stopWithin(10_000);
  }
}

export async function clickhouseClusterBenchmark(print: Print): Promise<void> {
  if (!clickHouseServerBinary() || !canRunCluster()) {
    print('ClickHouse cluster: skipped, clickhouse-server or zookeeper is not installed (apt-get install clickhouse-server zookeeper)');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-cluster-bench-'));
  const server = await startClickHouse();
  const cluster = await startClickHouseCluster();
  try {
    print(`ClickHouse cluster (2 shards, the first with 2 replicas, ZooKeeper) beside one server and SQLite: one collector on core 0, ${SECONDS} s per figure after a 3 s warm-up`);
    await ingestion('SQLite', path.join(dir, 'bench.db'), print);
    await ingestion('ClickHouse, one server', server.databaseUrlFor('bench_single'), print);
    await ingestion('ClickHouse, cluster', cluster.databaseUrlFor('bench_cluster'), print);
    await ingestion('ClickHouse, cluster, spooled', cluster.databaseUrlFor('bench_cluster_spooled'), print, { SPOOL_DIR: path.join(dir, 'spool') });
    print(`Reports over the shop walk (${VISITORS.toLocaleString('en')} visitors, ${SPAN_DAYS} days), through a collector:`);
    await reports('ClickHouse, cluster', cluster.databaseUrlFor('bench_reports'), print);
    await reports('ClickHouse, one server', server.databaseUrlFor('bench_reports'), print);
  } finally {
    await cluster.stop();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// Alone: taskset -c 1 npx tsx bench/clickhouseCluster.ts (BENCH_CLUSTER_VISITORS=2000000 for about 10M events).
if (import.meta.url === `file://${process.argv[1]}`) await clickhouseClusterBenchmark((line) => console.log(line));
