// The same collector on the two stores, side by side: acknowledged events/s for single events
// and batches of 100, SQLite file against a local ClickHouse (Debian's clickhouse-server).
// Report latency on both stores is storesReport.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { clickHouseServerBinary, startClickHouse } from '../test-support/clickhouse.js';
import { drive, startServer, type LoadResult } from './load.js';
import { requestHeaders, snippetEvent } from './traffic.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);

const describe = (r: LoadResult, perRequest: number) =>
  `${Math.round(r.requestsPerSecond * perRequest)} events/s (p99 ${r.p99Ms} ms, non-2xx ${r.non2xx})`;

export async function clickhouseBenchmark(): Promise<string[]> {
  if (!clickHouseServerBinary()) return ['ClickHouse: skipped, clickhouse-server is not installed (apt-get install clickhouse-server)'];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-ch-bench-'));
  const clickhouse = await startClickHouse();
  const headers = () => requestHeaders(20_000);
  const single = { connections: 50, pool: 20_000, body: () => JSON.stringify(snippetEvent()), headers };
  const batch = { connections: 50, pool: 500, body: () => JSON.stringify(Array.from({ length: 100 }, () => snippetEvent())), headers };
  const out = [`Stores side by side: the collector on core 0, load on core 1 (with the ClickHouse server, which takes what CPU it can), ${SECONDS} s per figure after a 3 s warm-up`];
  for (const [label, target] of [['SQLite', path.join(dir, 'bench.db')], ['ClickHouse', clickhouse.databaseUrlFor('bench')]] as const) {
    const collector = await startServer('bench/servers/collector.ts', [target], 0);
    await drive(collector, { ...single, seconds: 3 });
    const s = await drive(collector, { ...single, seconds: SECONDS });
    const b = await drive(collector, { ...batch, seconds: SECONDS });
    await collector.stop();
    out.push(`${label.padEnd(10)} single events: ${describe(s, 1)}; batches of 100: ${describe(b, 100)}`);
  }
  // Scale-out: two collectors (one per core) on one ClickHouse, each driven with half the
  // connections at once; their acknowledged rates add up. On 2 cores they also share the CPU
  // with the load generator and the server, so this shows what a second collector adds here.
  const pair = [
    await startServer('bench/servers/collector.ts', [clickhouse.databaseUrlFor('bench_pair')], 0),
    await startServer('bench/servers/collector.ts', [clickhouse.databaseUrlFor('bench_pair')], 1),
  ];
  const both = async (options: typeof single & { seconds: number }) => {
    const results = await Promise.all(pair.map((c) => drive(c, { ...options, connections: options.connections / 2 })));
    return { ...results[0], requestsPerSecond: results[0].requestsPerSecond + results[1].requestsPerSecond,
      p99Ms: Math.max(results[0].p99Ms, results[1].p99Ms), non2xx: results[0].non2xx + results[1].non2xx };
  };
  await both({ ...single, seconds: 3 });
  const s2 = await both({ ...single, seconds: SECONDS });
  const b2 = await both({ ...batch, seconds: SECONDS });
  for (const c of pair) await c.stop();
  out.push(`ClickHouse, 2 collectors together: single events: ${describe(s2, 1)}; batches of 100: ${describe(b2, 100)}`);
  await clickhouse.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}
