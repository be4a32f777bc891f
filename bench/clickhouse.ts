// The same collector on the two stores, side by side: acknowledged events/s for single events
// and batches of 100, SQLite file against a local ClickHouse (Debian's clickhouse-server).
// Report latency on both stores is storesReport.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { clickHouseServerBinary, startClickHouse } from '../test-support/clickhouse.js';
import { drive, startServer, type LoadResult, type Server } from './load.js';
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

// ---- Single events side by side: the ClickHouse collector's rate against the SQLite
// collector's, under the same load, in alternating rounds (the VM drifts over minutes), at the
// ingestion bench's 50 connections and at more. A ClickHouse insert costs a part on the server
// whatever its size, so the collector's rate is about (events per insert) / (insert latency), and
// events per insert are bounded by the requests in flight: 50 keep-alive connections measure the
// insert's latency more than the collector's capacity.

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTION_COUNTS = [50, 500];
/** tmpfs, where the machine has one: ClickHouse's data there shows what its disk costs per insert. */
const TMPFS = '/dev/shm';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** A ClickHouse server whose data lives under `dir` (startClickHouse makes its temp dir in os.tmpdir()). */
async function clickHouseIn(dir: string): Promise<Awaited<ReturnType<typeof startClickHouse>>> {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    return await startClickHouse();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}

export async function singleEventsBenchmark(): Promise<string[]> {
  if (!clickHouseServerBinary()) return ['Single events side by side: skipped, clickhouse-server is not installed'];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-single-bench-'));
  const onDisk = await startClickHouse();
  const onTmpfs = fs.existsSync(TMPFS) ? await clickHouseIn(TMPFS) : null;
  const stores: { label: string; server: Server }[] = [
    { label: 'SQLite', server: await startServer('bench/servers/collector.ts', [path.join(dir, 'single.db')], 0) },
    { label: `ClickHouse, data in ${os.tmpdir()}`, server: await startServer('bench/servers/collector.ts', [onDisk.databaseUrlFor('single')], 0) },
  ];
  if (onTmpfs) stores.push({ label: `ClickHouse, data in ${TMPFS} (tmpfs)`, server: await startServer('bench/servers/collector.ts', [onTmpfs.databaseUrlFor('single')], 0) });
  // SPOOL_DIR: acknowledged once in a local file (like SQLite's commit), shipped in large inserts.
  const spooled = { label: `ClickHouse, data in ${os.tmpdir()}, spooled (SPOOL_DIR)`, database: 'single_spooled' };
  stores.push({ label: spooled.label, server: await startServer('bench/servers/collector.ts', [onDisk.databaseUrlFor(spooled.database)], 0, { SPOOL_DIR: path.join(dir, 'spool') }) });
  let spooledAcknowledged = 0;
  const out = [`Single events side by side: collectors on core 0, load and ClickHouse on core 1, the same load for each store, ` +
    `${ROUNDS} alternating rounds of ${SECONDS} s after a 3 s warm-up, at ${CONNECTION_COUNTS.join(' and ')} keep-alive connections`];
  const headers = () => requestHeaders(20_000);
  for (const connections of CONNECTION_COUNTS) {
    const load = { connections, pool: 20_000, body: () => JSON.stringify(snippetEvent()), headers };
    const count = (label: string, r: LoadResult) => { if (label === spooled.label) spooledAcknowledged += r.acknowledged; };
    for (const { label, server } of stores) count(label, await drive(server, { ...load, seconds: 3 }));
    const rates = stores.map(() => [] as number[]);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [i, { label, server }] of stores.entries()) {
        const r = await drive(server, { ...load, seconds: SECONDS });
        count(label, r);
        rates[i].push(r.requestsPerSecond);
        out.push(`${connections} connections, round ${round}, ${label}: ${describe(r, 1)}, ClickHouse and other processes ${(r.othersCpu * 100).toFixed(0)}% CPU`);
      }
    }
    for (let i = 1; i < stores.length; i++) {
      const ratios = rates[i].map((rate, round) => rate / rates[0][round]);
      out.push(`${connections} connections: ${stores[i].label} / SQLite, single events: median ${median(ratios).toFixed(2)} ` +
        `(rounds: ${ratios.map((r) => r.toFixed(2)).join(', ')}; ${Math.round(median(rates[i]))} against ${Math.round(median(rates[0]))} events/s) — target ≥ 0.5`);
    }
  }
  // The spooled collector ships what it still holds as it stops: every acknowledged event must be in ClickHouse.
  const stopped = performance.now();
  for (const { server } of stores) await server.stop();
  const [{ n: stored }] = await onDisk.rows(`SELECT count() AS n FROM (SELECT DISTINCT client_ts, dedupe_key FROM ${spooled.database}.events)`);
  out.push(`Spooled collector: ${spooledAcknowledged} events acknowledged, ${String(stored)} in ClickHouse after it stopped ` +
    `(all collectors stopped in ${Math.round(performance.now() - stopped)} ms)`);
  await onDisk.stop();
  await onTmpfs?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await singleEventsBenchmark()) console.log(line);
}
