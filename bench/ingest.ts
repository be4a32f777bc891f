// Ingestion: the collector's acknowledged events/s beside a bare Fastify route on the same
// machine, each server pinned to core 0 and the load generator to core 1. The two alternate
// over several rounds and the median ratio is reported: a shared VM drifts by ±10% over
// minutes, which a single pair of runs would report as a difference between the servers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { drive, startServer, type LoadResult, type Server } from './load.js';
import { requestHeaders, snippetEvent } from './traffic.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 50;
const VISITORS = 5_000;
/** A round during which other processes used more than this share of a core is run again. */
const DISTURBED_CPU = 0.05;
const DISTURBED_RETRIES = Number(process.env.BENCH_RETRIES ?? 3);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function line(label: string, r: LoadResult, eventsPerRequest = 1): string {
  return `${label.padEnd(40)} ${Math.round(r.requestsPerSecond).toString().padStart(7)} req/s ` +
    `${Math.round(r.requestsPerSecond * eventsPerRequest).toString().padStart(8)} events/s  ` +
    `p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  server CPU ${(r.serverCpu * 100).toFixed(0)}%  ` +
    `peak RSS ${r.serverPeakRssMiB.toFixed(0)} MiB  non-2xx ${r.non2xx}  errors ${r.errors}  other processes ${(r.othersCpu * 100).toFixed(0)}% CPU`;
}

interface Mode {
  label: string;
  eventsPerRequest: number;
  pool: number;
  body: () => string;
}

export async function ingestBenchmark(): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-bench-'));
  const out: string[] = [`Ingestion, ${CONNECTIONS} connections, ${VISITORS} distinct visitors, server on core 0 and load on core 1, ` +
    `a 3 s warm-up, then ${ROUNDS} alternating rounds of ${SECONDS} s per server and mode`];
  const headers = () => requestHeaders(VISITORS);
  const modes: Mode[] = [
    { label: 'single events', eventsPerRequest: 1, pool: 20_000, body: () => JSON.stringify(snippetEvent()) },
    { label: 'batches of 100', eventsPerRequest: 100, pool: 500, body: () => JSON.stringify(Array.from({ length: 100 }, () => snippetEvent())) },
  ];

  const dbFile = path.join(dir, 'bench.db');
  const bare: Server = await startServer('bench/servers/bare.ts', [], 0);
  const collector: Server = await startServer('bench/servers/collector.ts', [dbFile], 0);
  let acknowledged = 0;
  // An uncounted warm-up: the JIT, the parsers' memos and SQLite's page cache reach their
  // steady state, which is what a collector that has run for a minute is in.
  for (const server of [bare, collector]) {
    const warm = await drive(server, { seconds: 3, connections: CONNECTIONS, pool: 20_000, body: modes[0].body, headers });
    if (server === collector) acknowledged += warm.acknowledged;
  }
  for (const mode of modes) {
    const ratios: number[] = [];
    const eventsPerSecond: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const load = { seconds: SECONDS, connections: CONNECTIONS, pool: mode.pool, body: mode.body, headers };
      let b = await drive(bare, load);
      let c = await drive(collector, load);
      acknowledged += c.acknowledged * mode.eventsPerRequest;
      // Other work on the machine (a test run) slows one server more than the other: such a
      // pair is reported and run again, a few times at most.
      for (let retry = 0; retry < DISTURBED_RETRIES && Math.max(b.othersCpu, c.othersCpu) > DISTURBED_CPU; retry++) {
        out.push(`round ${round}, ${mode.label}: other processes used ${(Math.max(b.othersCpu, c.othersCpu) * 100).toFixed(0)}% of a core, run again`);
        await new Promise((resolve) => setTimeout(resolve, 5_000));
        b = await drive(bare, load);
        c = await drive(collector, load);
        acknowledged += c.acknowledged * mode.eventsPerRequest;
      }
      ratios.push(c.requestsPerSecond / b.requestsPerSecond);
      eventsPerSecond.push(c.requestsPerSecond * mode.eventsPerRequest);
      out.push(line(`round ${round}, bare Fastify route, ${mode.label}`, b, mode.eventsPerRequest));
      out.push(line(`round ${round}, collector, ${mode.label}`, c, mode.eventsPerRequest));
    }
    out.push(`ratio collector / bare, ${mode.label}: median ${median(ratios).toFixed(2)} (rounds: ${ratios.map((r) => r.toFixed(2)).join(', ')})` +
      (mode.eventsPerRequest === 1 ? ' — target ≥ 0.7' : ''));
    if (mode.eventsPerRequest > 1) {
      out.push(`collector, ${mode.label}: median ${Math.round(median(eventsPerSecond))} events/s ` +
        `(rounds: ${eventsPerSecond.map((e) => Math.round(e)).join(', ')}) — target ≥ 60k events/s`);
    }
  }
  await bare.stop();
  await collector.stop();

  const db = new Database(dbFile, { readonly: true });
  const stored = (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  db.close();
  // Requests still in flight when a load stops may commit without their reply being counted.
  out.push(`events acknowledged with 202: ${acknowledged}, rows in SQLite after shutdown: ${stored} (${stored >= acknowledged ? 'none lost' : 'LOST EVENTS'})`);
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}
