// The embedded store's funnels across restarts: a snapshot of the live journeys is kept at each
// step that makes windows final and at a clean stop (a start reads the keys of open windows'
// events, and matches those that arrived after the snapshot); without one, the open windows are
// matched again from their events. Each gives the numbers the store gave before, and goes on
// counting what arrives after.
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

/** 3,000 visitors over 20 days (most windows closed, the last days open), in time order; `back` moves them earlier. */
function visitors(from: number, to: number, back = 0): StoredEvent[] {
  const events: StoredEvent[] = [];
  for (let n = from; n < to; n++) {
    for (const e of shopWalk(visitorOf(SITE, n, end - 20 * DAY_MS + n * 9 * 60_000 - back), n)) {
      events.push(back === 0 ? e : { ...e, id: `${e.id}-b`, visitor: `${e.visitor}-b`, session: `${e.session}-b` });
    }
  }
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
    // fresh_until is when the report was made: a report that waited for the restore is that much later.
    expect({ ...(await store.funnelReport(SITE, 'deal', range, { now: end })), fresh_until: 0 }).toEqual({ ...before, fresh_until: 0 });
    expect(snapshot()).toBe(0);

    // A crash: the process ends without close(), so no snapshot is left for the next start.
    const crashed = new SqliteStore(file);
    expect({ ...(await crashed.funnelReport(SITE, 'deal', range, { now: end })), fresh_until: 0 }).toEqual({ ...before, fresh_until: 0 });

    const later = visitors(2_500, 3_000);
    await crashed.write({ events: later, bots: [] });
    const all = await crashed.funnelReport(SITE, 'deal', range, { now: end });
    expect(all!.entered).toBe(3_000);

    // A crash later on: the disk holds the snapshot of the last step that made windows final and
    // the events after it (an online backup is such an image). A start restores the snapshot and
    // matches only those events.
    await crashed.settled();
    // Visits of the last day (the newest event stays where it was: no window closes, no new snapshot).
    await crashed.write({ events: visitors(2_800, 2_900, DAY_MS / 2), bots: [] });
    const whole = await crashed.funnelReport(SITE, 'deal', range, { now: end });
    expect(whole!.entered).toBe(3_100);
    const image = path.join(dir, 'image.db');
    await (crashed as SqliteStore).db.backup(image);
    const disk = new Database(image, { readonly: true });
    const saved = JSON.parse((disk.prepare('SELECT data FROM funnel_snapshot').get() as { data: string }).data) as { arrival: number };
    expect(saved.arrival).toBeLessThan((disk.prepare('SELECT max(rowid) AS n FROM events').get() as { n: number }).n);
    disk.close();
    const restored = new SqliteStore(image);
    expect({ ...(await restored.funnelReport(SITE, 'deal', range, { now: end })), fresh_until: 0 }).toEqual({ ...whole, fresh_until: 0 });
    await restored.close();
    await crashed.close();
    await store.close();
  });
});
