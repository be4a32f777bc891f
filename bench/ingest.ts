// Ingestion: the collector's acknowledged events/s beside a bare Fastify route on the same
// machine, each server pinned to core 0 and the load generator to core 1.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { drive, startServer, type LoadResult } from './load.js';
import { requestHeaders, snippetEvent } from './traffic.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 50;
const VISITORS = 20_000;

function line(label: string, r: LoadResult, eventsPerRequest = 1): string {
  return `${label.padEnd(34)} ${Math.round(r.requestsPerSecond).toString().padStart(7)} req/s ` +
    `${Math.round(r.requestsPerSecond * eventsPerRequest).toString().padStart(8)} events/s  ` +
    `p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  server CPU ${(r.serverCpu * 100).toFixed(0)}%  ` +
    `peak RSS ${r.serverPeakRssMiB.toFixed(0)} MiB  non-2xx ${r.non2xx}  errors ${r.errors}`;
}

export async function ingestBenchmark(): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-bench-'));
  const out: string[] = [`Ingestion, ${CONNECTIONS} connections, ${SECONDS} s each, ${VISITORS} distinct visitors (server on core 0, load on core 1)`];
  const single = () => JSON.stringify(snippetEvent());
  const batch = () => JSON.stringify(Array.from({ length: 100 }, () => snippetEvent()));
  const headers = () => requestHeaders(VISITORS);

  const bare = await startServer('bench/servers/bare.ts', [], 0);
  const bareSingle = await drive(bare, { seconds: SECONDS, connections: CONNECTIONS, pool: 20_000, body: single, headers });
  const bareBatch = await drive(bare, { seconds: SECONDS, connections: CONNECTIONS, pool: 500, body: batch, headers });
  await bare.stop();

  const dbFile = path.join(dir, 'bench.db');
  const collector = await startServer('bench/servers/collector.ts', [dbFile], 0);
  const collectorSingle = await drive(collector, { seconds: SECONDS, connections: CONNECTIONS, pool: 20_000, body: single, headers });
  const collectorBatch = await drive(collector, { seconds: SECONDS, connections: CONNECTIONS, pool: 500, body: batch, headers });
  await collector.stop();

  const db = new Database(dbFile, { readonly: true });
  const stored = (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  db.close();
  const acknowledged = collectorSingle.acknowledged + collectorBatch.acknowledged * 100;

  out.push(line('bare Fastify route, single events', bareSingle));
  out.push(line('collector, single events', collectorSingle));
  out.push(line('bare Fastify route, batches of 100', bareBatch, 100));
  out.push(line('collector, batches of 100', collectorBatch, 100));
  out.push(`ratio collector / bare, single events: ${(collectorSingle.requestsPerSecond / bareSingle.requestsPerSecond).toFixed(2)} (target ≥ 0.6)`);
  out.push(`ratio collector / bare, batches of 100: ${(collectorBatch.requestsPerSecond / bareBatch.requestsPerSecond).toFixed(2)}`);
  // Requests still in flight when the load stops may commit without their reply being counted.
  out.push(`events acknowledged with 202: ${acknowledged}, rows in SQLite after shutdown: ${stored} (${stored >= acknowledged ? 'none lost' : 'LOST EVENTS'})`);
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}
