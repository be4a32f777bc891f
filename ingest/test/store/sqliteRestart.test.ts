// The embedded store's funnels across restarts: a clean stop keeps a snapshot of the live
// journeys (the next start reads only the keys of open windows' events); after a crash there is
// none, and the open windows are matched again from their events. Both give the numbers the
// store gave before, and go on counting what arrives after.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import type { StoredEvent } from '../../src/event.js';
import { DAY_MS } from '../../src/time.js';
import { DEAL_FUNNEL, shopWalk, visitorOf } from '../../../bench/synthetic.js';

const SITE = 'shop.example.com';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-restart-'));
const file = path.join(dir, 'funnelbeam.db');
const end = Date.UTC(2026, 5, 30);
const range = { fromMs: end - 20 * DAY_MS, toMs: end + DAY_MS };

/** 3,000 visitors over 20 days (most windows closed, the last days open), in time order. */
function visitors(from: number, to: number): StoredEvent[] {
  const events: StoredEvent[] = [];
  for (let n = from; n < to; n++) events.push(...shopWalk(visitorOf(SITE, n, end - 20 * DAY_MS + n * 9 * 60_000), n));
  return events;
}

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the embedded store after a restart', () => {
  it('reports the same after a clean stop, after a crash, and counts what comes after', async () => {
    let store = new SqliteStore(file);
    await store.createSite({ domain: SITE, origins: [], allowedParams: [], createdAt: 0 });
    await store.putFunnel({ site: SITE, id: 'deal', definition: DEAL_FUNNEL, createdAt: 0, updatedAt: 0 });
    const first = visitors(0, 2_500);
    for (let i = 0; i < first.length; i += 500) await store.write({ events: first.slice(i, i + 500), bots: [] });
    await store.settled();
    const before = await store.funnelReport(SITE, 'deal', range, { now: end });
    expect(before!.entered).toBe(2_500);
    await store.close();

    const snapshot = () => (new Database(file, { readonly: true }).prepare('SELECT count(*) AS n FROM funnel_snapshot').get() as { n: number }).n;
    expect(snapshot()).toBe(1);
    store = new SqliteStore(file);
    expect(await store.funnelReport(SITE, 'deal', range, { now: end })).toEqual(before);
    expect(snapshot()).toBe(0);

    // A crash: the process ends without close(), so no snapshot is left for the next start.
    const crashed = new SqliteStore(file);
    expect({ ...(await crashed.funnelReport(SITE, 'deal', range, { now: end })), fresh_until: 0 }).toEqual({ ...before, fresh_until: 0 });

    const later = visitors(2_500, 3_000);
    await crashed.write({ events: later, bots: [] });
    const all = await crashed.funnelReport(SITE, 'deal', range, { now: end });
    expect(all!.entered).toBe(3_000);
    await crashed.close();
    await store.close();
  });
});
