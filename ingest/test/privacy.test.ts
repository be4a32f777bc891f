// Privacy: no raw IP and no e-mail address anywhere in the database file; salts rotate daily
// and old ones are deleted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type RunningCollector } from '../../test-support/collector.js';
import { SqliteStore } from '../src/store/sqlite/index.js';
import { DailySalt } from '../src/ingestion/salts.js';
import { DAY_MS, utcDay } from '../src/time.js';

const SITE = 'private.example.com';
const IP = '203.0.113.77';
const EMAIL = 'jane.doe@example.org';
let collector: RunningCollector;

beforeAll(async () => {
  collector = await startCollector({ trustProxy: true });
  expect((await collector.admin('/api/sites', { body: { domain: SITE, allowed_params: ['ref'] } })).status).toBe(201);
});

afterAll(async () => {
  await collector.close();
});

describe('the database file', () => {
  it('holds no raw IP and no e-mail address, wherever the client put them', async () => {
    const encoded = encodeURIComponent(EMAIL);
    const events = [
      { url: `https://${SITE}/signup?email=${encoded}&ref=${encoded}&utm_source=${encoded}&utm_campaign=${EMAIL}` },
      { url: `https://${SITE}/u/${EMAIL}/profile`, referrer: `https://mail.example.com/inbox?to=${EMAIL}` },
      { url: `https://${SITE}/`, referrer: `https://${EMAIL.replace('@', '%40')}.example/`, props: { email: EMAIL, note: `contact ${EMAIL} please` } },
      { url: `https://${SITE}/`, lead: EMAIL, variant: EMAIL },
    ].map((e, i) => ({ site: SITE, name: 'signup', id: `p${i}`, ts: Date.now(), ...e }));
    const reply = await fetch(`${collector.url}/api/event`, {
      method: 'POST',
      headers: {
        'content-type': 'text/plain', 'x-forwarded-for': IP,
        'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
      },
      body: JSON.stringify(events),
    });
    expect(reply.status).toBe(202);
    // Close, so everything is in the main file (and scan the WAL too, in case).
    const dir = collector.dir;
    await collector.app.close();
    const bytes = fs.readdirSync(dir).filter((f) => f.startsWith('funnelbeam.db')).map((f) => fs.readFileSync(path.join(dir, f)));
    const haystack = Buffer.concat(bytes).toString('latin1').toLowerCase();
    expect(haystack).toContain('signup'); // the events are there…
    for (const needle of [IP, EMAIL, encodeURIComponent(EMAIL), EMAIL.replace('@', '%40'), 'jane.doe@']) {
      expect(haystack.includes(needle.toLowerCase()), needle).toBe(false); // …and none of these
    }
    collector = await startCollector({ trustProxy: true }, dir);
  });
});

describe('salts', () => {
  it('rotate every UTC day, and days before yesterday are deleted', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-salts-'));
    const store = new SqliteStore(path.join(dir, 'salts.db'));
    const salts = new DailySalt(store);
    const day0 = Date.parse('2026-03-01T12:00:00Z');
    const first = await salts.forTime(day0);
    expect(await salts.forTime(day0 + 3_600_000)).toBe(first);
    const second = await salts.forTime(day0 + DAY_MS);
    expect(second).not.toBe(first);
    const third = await salts.forTime(day0 + 2 * DAY_MS);
    const kept = (store.db.prepare('SELECT day FROM salts ORDER BY day').all() as { day: string }[]).map((r) => r.day);
    expect(kept).toEqual([utcDay(day0 + DAY_MS), utcDay(day0 + 2 * DAY_MS)]);
    expect(new Set([first, second, third]).size).toBe(3);
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
