// The collector as `npm start` runs it, stopped under load by SIGTERM and by kill -9: every
// event acknowledged with a 202 is in the database afterwards, exactly once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { exited, killCollectorProcesses, PROCESS_ADMIN_TOKEN, startCollectorProcess } from '../../test-support/collectorProcess.js';
import { canSkipClickHouse, startClickHouse } from '../../test-support/clickhouse.js';

const SITE = 'durable.example.com';
// A browser's User-Agent: fetch's own ("node") is a bot, counted and not stored.
const headers = {
  'content-type': 'text/plain',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
};

const startMain = (dbFile: string) => startCollectorProcess(`sqlite:${dbFile}`);

function pageview(id: string, ts: number) {
  return { site: SITE, name: 'pageview', url: `https://${SITE}/`, id, ts };
}

/** Clients that send batches with unique ids as fast as they can, recording what was acknowledged. */
function loadUntilRefused(url: string, clients: number) {
  /** Acknowledged event ids, with the ts each was sent with (a retry repeats both). */
  const acknowledged = new Map<string, number>();
  let stop = false;
  let sequence = 0;
  const client = async (n: number) => {
    while (!stop) {
      const body = Array.from({ length: 10 }, () => pageview(`c${n}-${sequence++}`, Date.now()));
      try {
        // A request the dying collector never answers is simply not acknowledged.
        const reply = await fetch(`${url}/api/event`, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
        if (reply.status === 202) body.forEach((e) => acknowledged.set(e.id, e.ts));
      } catch {
        return; // the collector is gone
      }
    }
  };
  const running = Promise.all(Array.from({ length: clients }, (_, n) => client(n)));
  return { acknowledged, finish: async () => { stop = true; await running; } };
}

function storedIds(dbFile: string): Map<string, number> {
  const db = new Database(dbFile, { readonly: true });
  const rows = db.prepare('SELECT id, count(*) AS n FROM events GROUP BY id').all() as { id: string; n: number }[];
  db.close();
  return new Map(rows.map((r) => [r.id, r.n]));
}

async function registerSite(url: string) {
  const reply = await fetch(`${url}/api/sites`, {
    method: 'POST',
    headers: { authorization: `Bearer ${PROCESS_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ domain: SITE, origins: [`https://${SITE}`] }),
  });
  expect([201, 409]).toContain(reply.status);
}

afterEach(killCollectorProcesses);

describe.each(['SIGTERM', 'SIGKILL'] as const)('stopping the collector under load with %s', (signal) => {
  it('keeps every acknowledged event, exactly once', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-durability-'));
    const dbFile = path.join(dir, 'funnelbeam.db');
    const { child, url } = await startMain(dbFile);
    await registerSite(url);

    const load = loadUntilRefused(url, 8);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    child.kill(signal);
    const code = await exited(child);
    await load.finish();
    if (signal === 'SIGTERM') expect(code).toBe(0);

    // A restart on the same file recovers the WAL; the clients' retries (same ids) add nothing.
    expect(load.acknowledged.size).toBeGreaterThan(100);
    const restarted = await startMain(dbFile);
    const retried = [...load.acknowledged].slice(-50).map(([id, ts]) => pageview(id, ts));
    const reply = await fetch(`${restarted.url}/api/event`, { method: 'POST', headers, body: JSON.stringify(retried) });
    expect(reply.status).toBe(202);
    restarted.child.kill('SIGTERM');
    expect(await exited(restarted.child)).toBe(0);

    const stored = storedIds(dbFile);
    const missing = [...load.acknowledged.keys()].filter((id) => !stored.has(id));
    expect(missing).toEqual([]);
    expect([...stored.entries()].filter(([, n]) => n > 1)).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});

// SPOOL_DIR: a ClickHouse collector acknowledges from its local spool. ClickHouse stalls
// (SIGSTOP: an insert sent to it hangs), the collector acknowledges events it cannot ship and is
// killed -9; ClickHouse comes back, and so does the collector on the same spool.
describe.skipIf(canSkipClickHouse())('a ClickHouse collector with a spool, killed -9 while ClickHouse stalls', () => {
  it('ships every acknowledged event after its restart, each once', async () => {
    const clickhouse = await startClickHouse();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-spool-durability-'));
    try {
      const databaseUrl = clickhouse.databaseUrlFor('spool_durability');
      // The default SPOOL_SYNCHRONOUS (NORMAL): no flush to the disk, which kill -9 does not need.
      const env = { SPOOL_DIR: path.join(dir, 'spool') };
      const first = await startCollectorProcess(databaseUrl, env);
      await registerSite(first.url);
      // The first event reads the day's salt from the store; the others use it as cached.
      const warm = await fetch(`${first.url}/api/event`, { method: 'POST', headers, body: JSON.stringify(pageview('warm-up', Date.now())) });
      expect(warm.status).toBe(202);
      process.kill(clickhouse.pid!, 'SIGSTOP');
      let load;
      try {
        load = loadUntilRefused(first.url, 8);
        await new Promise((resolve) => setTimeout(resolve, 1500));
        first.child.kill('SIGKILL');
        await exited(first.child);
        await load.finish();
      } finally {
        process.kill(clickhouse.pid!, 'SIGCONT');
      }
      expect(load.acknowledged.size).toBeGreaterThan(100);
      // Nothing could be shipped: the spool holds every acknowledged event.
      expect(fs.readdirSync(env.SPOOL_DIR).some((name) => name.startsWith('segment-'))).toBe(true);

      const restarted = await startCollectorProcess(databaseUrl, env);
      const stats = async () => (await restarted.admin(`/api/sites/${SITE}/stats?from=2020-01-01&to=2029-12-31`).then((r) => r.json())) as { events: number };
      for (let i = 0; i < 100 && (await stats()).events < load.acknowledged.size; i++) await new Promise((resolve) => setTimeout(resolve, 200));
      const stored = await clickhouse.rows('SELECT DISTINCT id FROM spool_durability.events');
      const storedIds = new Set(stored.map((row) => String(row.id)));
      expect([...load.acknowledged.keys()].filter((id) => !storedIds.has(id))).toEqual([]);
      // A shipment the stalled server took before the kill is stored twice: reads count it once.
      expect((await stats()).events).toBe(storedIds.size);
      restarted.child.kill('SIGTERM');
      expect(await exited(restarted.child)).toBe(0);
    } finally {
      await clickhouse.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
