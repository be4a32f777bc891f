// When storage cannot keep up or a client sends too much: 503 with Retry-After, or 429, and
// nothing acknowledged is lost; the collector recovers by itself.
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { startCollector, type RunningCollector } from '../../test-support/collector.js';
import type { Config } from '../../ingest/src/config.js';

const SITE = 'busy.example.com';
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
let collector: RunningCollector | undefined;

async function start(overrides: Partial<Config>) {
  collector = await startCollector(overrides);
  expect((await collector.admin('/api/sites', { body: { domain: SITE } })).status).toBe(201);
  return collector;
}

function send(c: RunningCollector, count: number, prefix: string) {
  const body = Array.from({ length: count }, (_, i) => ({ site: SITE, name: 'pageview', url: `https://${SITE}/`, id: `${prefix}-${i}`, ts: Date.now() }));
  return fetch(`${c.url}/api/event`, { method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': CHROME }, body: JSON.stringify(body) });
}

function count(c: RunningCollector): number {
  const db = new Database(c.dbFile, { readonly: true });
  const n = (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  db.close();
  return n;
}

afterEach(async () => {
  await collector?.close();
  collector = undefined;
});

describe('overload', () => {
  it('answers 503 with Retry-After when the write queue is full', async () => {
    const c = await start({ maxQueuedEvents: 5 });
    const reply = await send(c, 10, 'too-many');
    expect(reply.status).toBe(503);
    expect(reply.headers.get('retry-after')).toBe('1');
    expect(await reply.json()).toMatchObject({ field: '(body)' });
    expect((await send(c, 5, 'fits')).status).toBe(202);
    expect(count(c)).toBe(5);
  });

  it('answers 503 while the database is locked, and recovers when the lock goes', async () => {
    const c = await start({});
    expect((await send(c, 3, 'before')).status).toBe(202);
    const locker = new Database(c.dbFile);
    locker.exec('BEGIN IMMEDIATE');
    const refused = await send(c, 3, 'during');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    locker.exec('ROLLBACK');
    locker.close();
    // The client retries the same events; now they land.
    expect((await send(c, 3, 'during')).status).toBe(202);
    expect(count(c)).toBe(6);
  });

  it('sheds with 503 and Retry-After while the event loop lags, and recovers', async () => {
    const c = await start({ maxEventLoopDelayMs: 100, eventLoopSampleMs: 20 });
    // Starting up (building the snippet and the dashboard) is itself a lag: wait it out.
    await expect.poll(async () => (await send(c, 1, `before-lag-${Date.now()}`)).status, { timeout: 5000, interval: 100 }).toBe(202);
    // The collector runs in this process: busy stretches here are an overloaded CPU for it.
    // The lag is sampled on a timer, so keep it up until a request meets it.
    let shed: Response | undefined;
    for (let i = 0; i < 20 && !shed; i++) {
      const until = Date.now() + 300;
      while (Date.now() < until) { /* an overloaded CPU */ }
      const reply = await send(c, 1, `during-lag-${i}`);
      if (reply.status === 503) shed = reply;
      else expect(reply.status).toBe(202);
    }
    if (!shed) throw new Error('the collector never shed load while its event loop lagged');
    expect(shed.headers.get('retry-after')).toBe('1');
    expect(await shed.json()).toMatchObject({ field: '(body)' });
    // The management API stays reachable for the operator.
    expect((await c.admin('/api/sites')).status).toBe(200);
    await expect.poll(async () => (await send(c, 1, `after-lag-${Date.now()}`)).status, { timeout: 5000, interval: 100 }).toBe(202);
  });

  it('answers 429 past the per-IP rate limit', async () => {
    const c = await start({ rateLimitPerMinute: 5 });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await send(c, 1, `rate-${i}`)).status);
    // The site registration above took one request of the budget.
    expect(statuses).toEqual([202, 202, 202, 202, 429, 429, 429]);
    expect(count(c)).toBe(4);
  });
});
