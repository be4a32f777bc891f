// Overload: far more connections than one core can serve, sending batches. The collector must
// shed with 503 (its write queue is capped) rather than grow memory without bound, lose
// nothing it acknowledged, and serve normally again as soon as the flood stops.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { drive, startServer } from './load.js';
import { requestHeaders, snippetEvent } from './traffic.js';

const QUEUE_CAP = 5_000;

export async function overloadBenchmark(): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-overload-'));
  const dbFile = path.join(dir, 'overload.db');
  const collector = await startServer('bench/servers/collector.ts', [dbFile], 0, { MAX_QUEUED_EVENTS: String(QUEUE_CAP) });
  const headers = () => requestHeaders(20_000);
  const batch = () => JSON.stringify(Array.from({ length: 100 }, () => snippetEvent()));
  const single = () => JSON.stringify(snippetEvent());

  const flood = await drive(collector, { seconds: 8, connections: 1_000, pool: 300, body: batch, headers });
  // Recovery: how long until a plain request is taken again (the server first works off what
  // the flood left in its socket buffers), then a normal load.
  const floodEnded = performance.now();
  let probe = 0;
  for (;;) {
    const reply = await fetch(`http://127.0.0.1:${collector.port}/api/event`, {
      method: 'POST', headers: { 'content-type': 'text/plain', ...headers() }, body: single().replace('@ID@', `probe-${probe++}`),
    });
    if (reply.status === 202) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const recoveredMs = performance.now() - floodEnded;
  const after = await drive(collector, { seconds: 3, connections: 10, pool: 5_000, body: single, headers });
  await collector.stop();

  const db = new Database(dbFile, { readonly: true });
  const stored = (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const acknowledged = flood.acknowledged * 100 + after.acknowledged + 1;
  return [
    `Overload: 1,000 connections sending batches of 100 for 8 s at a collector on one core, write queue capped at ${QUEUE_CAP} events`,
    `flood: ${flood.acknowledged} batches acknowledged (${Math.round((flood.acknowledged * 100) / 8)} events/s taken), ` +
      `${flood.non2xx} shed with a non-2xx (503), ${flood.errors} connection errors or timeouts, p50 ${flood.p50Ms} ms, p99 ${flood.p99Ms} ms, ` +
      `server peak RSS ${flood.serverPeakRssMiB.toFixed(0)} MiB`,
    `recovered: a request was taken again ${Math.round(recoveredMs)} ms after the flood stopped; then 10 connections of ` +
      `single events for 3 s: ${Math.round(after.requestsPerSecond)} req/s, ${after.non2xx} non-2xx, p99 ${after.p99Ms} ms`,
    `events acknowledged: ${acknowledged}, rows stored: ${stored} (${stored >= acknowledged ? 'none lost' : 'LOST EVENTS'})`,
  ];
}
