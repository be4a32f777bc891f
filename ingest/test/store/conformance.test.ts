// One suite, every engine: the same writes must give the same stats, sites, funnels, salts and
// settings on SQLite and on ClickHouse, and collectors sharing a store must behave as one
// (funnel reports: funnelConformance.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/types.js';
import { openStore } from '../../src/store/open.js';
import { clickHouseEngine, limitFor } from '../../../test-support/clickhouse.js';
import { storeEngines } from './engines.js';
import type { ClickHouseStore } from '../../src/store/clickhouse/index.js';
import { hasAsyncInserts } from '../../src/store/clickhouse/connection.js';
import { startCollector, type RunningCollector } from '../../../test-support/collector.js';
import { startWebhookReceiver, waitFor } from '../../../test-support/webhookReceiver.js';
import { BATCHES, D0, D1, EXPECTED_STATS, OTHER, SITE } from './fixture.js';

const { list: engines, skipClickHouse, clickhouse: running } = storeEngines('conformance', ['events', 'bot_counts', 'sites', 'funnels']);
if (skipClickHouse) console.warn('clickhouse-server is not installed: the ClickHouse half of the store conformance suite is skipped');


describe.each(engines)('the $name store', (engine) => {
  const stores: Store[] = [];
  const open = async (database: { open(): Promise<Store> }) => {
    const store = await database.open();
    stores.push(store);
    return store;
  };

  afterAll(async () => {
    for (const store of stores) await store.close();
  });

  describe('events', () => {
    let store: Store;
    let url: string;

    beforeAll(async () => {
      const database = engine.database();
      url = database.url;
      store = await open(database);
      for (const batch of BATCHES) await store.write(batch);
    });

    it.each(EXPECTED_STATS)('counts $name', async ({ site, range, stats }) => {
      expect(await store.stats(site, range)).toEqual(stats);
    });

    it('counts the same once background merges have collapsed the duplicates', async () => {
      await engine.mergeAll?.(url);
      for (const { site, range, stats } of EXPECTED_STATS) expect(await store.stats(site, range)).toEqual(stats);
    });

    it('ignores a batch that repeats everything already stored', async () => {
      const database = engine.database();
      const fresh = await open(database);
      for (const batch of BATCHES) await fresh.write({ events: batch.events.filter((e) => e.id !== null), bots: [] });
      for (const batch of BATCHES) await fresh.write({ events: batch.events.filter((e) => e.id !== null), bots: [] });
      // Ids only: the first day holds a1, a2, b1 and x1 twice.
      expect(await fresh.stats(SITE, { fromMs: D0, toMs: D1 })).toEqual({ events: 5, pageviews: 2, visitors: 2, bots: 0 });
    });
  });

  describe('sites', () => {
    it('creates once, updates origins and parameters but not the creation time, and lists by domain', async () => {
      const store = await open(engine.database());
      expect(await store.listSites()).toEqual([]);
      const shop = { domain: SITE, origins: ['https://shop.example.com'], allowedParams: [], createdAt: D0 };
      expect(await store.createSite(shop)).toBe(true);
      expect(await store.createSite({ ...shop, origins: ['https://evil.example'], createdAt: D1 })).toBe(false);
      expect(await store.createSite({ domain: OTHER, origins: [], allowedParams: ['ref'], createdAt: D1 })).toBe(true);
      await store.updateSite({ ...shop, origins: ['https://shop.example.com', "https://o'brien.example"], allowedParams: ['q'], createdAt: D1 });
      await store.updateSite({ domain: 'unknown.example.com', origins: [], allowedParams: [], createdAt: D1 });
      expect(await store.listSites()).toEqual([
        { domain: OTHER, origins: [], allowedParams: ['ref'], createdAt: D1, retentionDays: null },
        { domain: SITE, origins: ['https://shop.example.com', "https://o'brien.example"], allowedParams: ['q'], createdAt: D0, retentionDays: null },
      ]);
    });

    it('shows a site created through one store to another on the same database', async () => {
      const database = engine.database();
      const [a, b] = [await open(database), await open(database)];
      await a.createSite({ domain: SITE, origins: [], allowedParams: [], createdAt: D0 });
      expect(await b.createSite({ domain: SITE, origins: ['https://x.example'], allowedParams: [], createdAt: D1 })).toBe(false);
      await b.updateSite({ domain: SITE, origins: ['https://shop.example.com'], allowedParams: [], createdAt: D0 });
      await a.updateSite({ domain: SITE, origins: ['https://shop.example.com'], allowedParams: [], createdAt: D0, retentionDays: 30 });
      expect(await b.listSites()).toEqual([{ domain: SITE, origins: ['https://shop.example.com'], allowedParams: [], createdAt: D0, retentionDays: 30 }]);
    });
  });

  describe('funnels', () => {
    const definition = { name: 'Signup', window: '7d', steps: [{ name: 'Landing', event: 'pageview', path: '/' }, { name: 'Signup', event: 'signup' }] };

    it('saves, replaces (keeping the creation time), lists by id and deletes', async () => {
      const store = await open(engine.database());
      await store.putFunnel({ site: SITE, id: 'signup', definition, createdAt: D0, updatedAt: D0 });
      await store.putFunnel({ site: SITE, id: 'a-first', definition, createdAt: D0, updatedAt: D0 });
      await store.putFunnel({ site: OTHER, id: 'signup', definition, createdAt: D0, updatedAt: D0 });
      const renamed = { ...definition, name: "Sign'up" };
      await store.putFunnel({ site: SITE, id: 'signup', definition: renamed, createdAt: D1, updatedAt: D1 });
      expect(await store.listFunnels(SITE)).toEqual([
        { site: SITE, id: 'a-first', definition, createdAt: D0, updatedAt: D0 },
        { site: SITE, id: 'signup', definition: renamed, createdAt: D0, updatedAt: D1 },
      ]);
      expect(await store.deleteFunnel(SITE, 'a-first')).toBe(true);
      expect(await store.deleteFunnel(SITE, 'a-first')).toBe(false);
      expect((await store.listFunnels(SITE)).map((f) => f.id)).toEqual(['signup']);
      expect((await store.listFunnels(OTHER)).map((f) => f.id)).toEqual(['signup']);
    });
  });

  describe('salts and settings', () => {
    it('makes a salt once per day, keeps it, and forgets the days before the ones kept', async () => {
      const store = await open(engine.database());
      expect(await store.dailySalt('2026-03-30', 'first')).toBe('first');
      expect(await store.dailySalt('2026-03-30', 'another')).toBe('first');
      expect(await store.dailySalt('2026-03-31', 'second')).toBe('second');
      await store.deleteSaltsBefore('2026-03-31');
      expect(await store.dailySalt('2026-03-30', 'remade')).toBe('remade');
      expect(await store.dailySalt('2026-03-31', 'another')).toBe('second');
    });

    it('sets a setting once, whatever is offered later, and keeps odd characters', async () => {
      const store = await open(engine.database());
      expect(await store.getSetting('admin_token')).toBeNull();
      expect(await store.setSettingOnce('admin_token', 'tok-2')).toBe('tok-2');
      expect(await store.setSettingOnce('admin_token', 'tok-1')).toBe('tok-2');
      expect(await store.getSetting('admin_token')).toBe('tok-2');
      const odd = "it's a \\ back\nslash";
      expect(await store.setSettingOnce(odd, odd)).toBe(odd);
      expect(await store.getSetting(odd)).toBe(odd);
    });

    it('agrees on one salt and one setting when two stores, opened at once on an empty database, race to make them', async () => {
      const database = engine.database();
      const [a, b] = await Promise.all([open(database), open(database)]);
      const salts = await Promise.all([a.dailySalt('2026-03-30', 'salt-a'), b.dailySalt('2026-03-30', 'salt-b')]);
      const settings = await Promise.all([a.setSettingOnce('admin_token', 'tok-a'), b.setSettingOnce('admin_token', 'tok-b')]);
      expect(salts[0]).toBe(salts[1]);
      expect(settings[0]).toBe(settings[1]);
      expect(await b.dailySalt('2026-03-30', 'late')).toBe(salts[0]);
      expect(await a.getSetting('admin_token')).toBe(settings[0]);
    });
  });
});

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

describe.skipIf(skipClickHouse)('the ClickHouse under test', () => {
  it('is the release asked for, and events go in as that release allows', async () => {
    const store = (await openStore(running()!.databaseUrlFor('version_check'))) as ClickHouseStore;
    try {
      const { version, asyncInserts } = store.server;
      // chDB brings a current release; Debian's clickhouse-server is 18.16, which has no async inserts.
      if (clickHouseEngine === 'chdb') expect(Number(version.split('.')[0])).toBeGreaterThanOrEqual(24);
      else expect(version).toMatch(/^18\.16\./);
      expect(asyncInserts).toBe(hasAsyncInserts(version));
      expect(asyncInserts).toBe(clickHouseEngine === 'chdb');
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(skipClickHouse)('two collectors on one ClickHouse', () => {
  let a: RunningCollector;
  let b: RunningCollector;

  beforeAll(async () => {
    const databaseUrl = running()!.databaseUrlFor('two_collectors');
    a = await startCollector({ databaseUrl });
    expect((await a.admin('/api/sites', { body: { domain: SITE, origins: ['https://shop.example.com'] } })).status).toBe(201);
    b = await startCollector({ databaseUrl });
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  const post = (collector: RunningCollector, body: unknown, userAgent = CHROME) =>
    fetch(`${collector.url}/api/event`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'user-agent': userAgent },
      body: JSON.stringify(body),
    });

  /** A report once it has every event sent by `sentBy` and no back-fill under way (within 10 s). */
  async function freshReport(collector: RunningCollector, pathname: string, sentBy: number) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const reply = await collector.admin(pathname);
      expect(reply.status).toBe(200);
      const report = (await reply.json()) as { entered: number; converted: number; steps: { exited: number }[]; fresh_until: number | null; backfill: unknown };
      if ((report.backfill === null && report.fresh_until !== null && report.fresh_until >= sentBy) || Date.now() > deadline) return report;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('stores what both take concurrently, retries sent to either once, and either one reports the total', async () => {
    const now = Date.now();
    const event = (i: number) => ({
      site: SITE, name: i % 3 === 0 ? 'signup' : 'pageview', url: `https://shop.example.com/p/${i}`,
      // A client's clock may give fractions of a millisecond: each copy of the event is stored once all the same.
      id: `e-${i}`, ts: now - i - 0.5, visitor: `v-${i % 10}`,
    });
    // Bots first: a collector's bot counts ride with its next commit, which its events then wait for.
    const bots = await Promise.all([a, a, a, b, b].map((c) => post(c, { site: SITE, name: 'pageview', url: 'https://shop.example.com/' }, GOOGLEBOT)));
    expect(bots.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);

    const requests = [
      // 30 events, alternately through a and b...
      ...Array.from({ length: 30 }, (_, i) => post(i % 2 === 0 ? a : b, event(i))),
      // ...the first 10 retried through the other collector...
      ...Array.from({ length: 10 }, (_, i) => post(i % 2 === 0 ? b : a, event(i))),
      // ...and 4 id-less pageviews, which are never duplicates.
      ...Array.from({ length: 4 }, (_, i) => post(i % 2 === 0 ? a : b, { site: SITE, name: 'pageview', url: 'https://shop.example.com/', visitor: 'v-0' })),
    ];
    const replies = await Promise.all(requests);
    expect(replies.map((r) => r.status)).toEqual(replies.map(() => 202));

    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    const query = `from=${day(now - 86_400_000)}&to=${day(now + 86_400_000)}`;
    for (const collector of [a, b]) {
      const reply = await collector.admin(`/api/sites/${SITE}/stats?${query}`);
      expect(reply.status).toBe(200);
      // 30 + 4 events; 20 + 4 pageviews (every third of the 30 is a signup); v-0..v-9; 5 bots.
      expect(await reply.json()).toEqual({ events: 34, pageviews: 24, visitors: 10, bots: 5 });
    }

    // A funnel over those journeys, saved through one collector and reported by both. Visitor
    // v-k did events k+20, k+10 and k, in that order (ts = now - i); every third is a signup.
    // A pageview before a signup: v-0, 2, 3, 5, 6, 8 and 9 convert; v-1, 4 and 7 stop at step 1.
    const funnel = { name: 'Any page to signup', window: '1h', steps: [{ name: 'Page', event: 'pageview' }, { name: 'Signup', event: 'signup' }] };
    expect((await a.admin(`/api/sites/${SITE}/funnels/pages`, { method: 'PUT', body: funnel })).status).toBe(201);
    const lastSent = Date.now();
    for (const collector of [a, b]) {
      // The materializer (whichever collector holds its lease) has the events within seconds; the report says how fresh it is.
      const report = await freshReport(collector, `/api/sites/${SITE}/funnels/pages/report?${query}`, lastSent);
      expect([report.entered, report.converted, report.steps[0].exited]).toEqual([10, 7, 3]);
    }
    expect((await b.admin(`/api/sites/${SITE}/funnels/pages`, { method: 'DELETE' })).status).toBe(204);
  });

  it('agree on a new site at once: events for it sent to the other collector right away are all taken, with CORS', async () => {
    // B has read its sites just now (as its event route does on a miss): the new site is not among them yet.
    expect((await post(b, { site: 'new.example.com', name: 'pageview', url: 'https://new.example.com/' })).status).toBe(403);
    for (let round = 0; round < 3; round++) {
      const domain = `new${round}.example.com`;
      const origin = `https://${domain}`;
      expect((await a.admin('/api/sites', { body: { domain, origins: [origin] } })).status).toBe(201);
      const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => fetch(`${b.url}/api/event`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', 'user-agent': CHROME, origin },
        body: JSON.stringify({ site: domain, name: 'pageview', url: `${origin}/`, id: `n-${i}` }),
      })));
      expect(replies.map((r) => r.status)).toEqual(replies.map(() => 202));
      expect(replies.map((r) => r.headers.get('access-control-allow-origin'))).toEqual(replies.map(() => origin));
      // And at once through the management API of the other collector.
      expect((await b.admin(`/api/sites/${domain}`)).status).toBe(200);
    }
  });

  it('share leads: one lead\'s events and moves through both, each webhook sent once, racing moves settled alike', async () => {
    const receiver = await startWebhookReceiver();
    const hooks = { webhooks: { allowPrivateAddresses: true, retryBaseMs: 100, pollMs: 25 } };
    const databaseUrl = running()!.databaseUrlFor('two_collectors_leads');
    const [x, y] = [await startCollector({ databaseUrl, ...hooks }), await startCollector({ databaseUrl, ...hooks })];
    try {
      const site = 'leads.example.com';
      expect((await x.admin('/api/sites', { body: { domain: site, origins: [`https://${site}`] } })).status).toBe(201);
      expect((await x.admin(`/api/sites/${site}/scoring`, { method: 'PUT', body: { threshold: 20, rules: [{ points: 10, event: 'deal_view' }] } })).status).toBe(200);
      expect((await y.admin(`/api/sites/${site}/webhook`, { method: 'PUT', body: { url: receiver.url, secret: 'a-long-enough-test-secret' } })).status).toBe(200);
      const T = Date.now() - 600_000;
      const leads = ['crm-1', 'crm-2', 'crm-3', 'crm-4'];
      // Each lead: an anonymous page through x; then, all at once, the signup through y and two
      // deal views through either (MQL at the second).
      const pages = await Promise.all(leads.map((lead, k) =>
        post(x, { site, name: 'pageview', url: `https://${site}/?utm_source=google&utm_medium=cpc`, id: `${lead}-0`, ts: T + k, visitor: `v${k}`, session: `s${k}` })));
      expect(pages.map((r) => r.status)).toEqual(pages.map(() => 202));
      const replies = await Promise.all(leads.flatMap((lead, k) => [
        post(y, { site, name: 'signup', url: `https://${site}/`, id: `${lead}-1`, ts: T + 60_000 + k, visitor: `v${k}`, session: `s${k}`, lead }),
        post(k % 2 ? x : y, { site, name: 'deal_view', url: `https://${site}/d`, id: `${lead}-2`, ts: T + 120_000 + k, visitor: `v${k}`, session: `s${k}` }),
        post(k % 2 ? y : x, { site, name: 'deal_view', url: `https://${site}/d`, id: `${lead}-3`, ts: T + 180_000 + k, visitor: `v${k}`, session: `s${k}` }),
      ]));
      expect(replies.map((r) => r.status)).toEqual(replies.map(() => 202));
      const listed = async (c: RunningCollector) => ((await (await c.admin(`/api/sites/${site}/leads`)).json()) as { leads: { lead: string; stage: string; source: { channel: string } }[] }).leads
        .map((l) => [l.lead, l.stage, l.source.channel]).sort();
      // The materializer (one of the two) scores them a moment later; then both list the same.
      const expected = leads.map((lead) => [lead, 'mql', 'Paid Search']);
      const deadline = Date.now() + 10_000;
      while (JSON.stringify(await listed(x)) !== JSON.stringify(expected) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await listed(x)).toEqual(expected);
      expect(await listed(y)).toEqual(expected);

      const move = (c: RunningCollector, lead: string, body: unknown) => c.admin(`/api/sites/${site}/leads/${lead}/stage`, { body });
      // The same move through both at once: both succeed, one of them changes the stage.
      const same = await Promise.all([move(x, 'crm-1', { stage: 'sal' }), move(y, 'crm-1', { stage: 'sal' })]);
      expect(same.map((r) => r.status)).toEqual([200, 200]);
      expect((await Promise.all(same.map((r) => r.json() as Promise<{ changed: boolean }>))).map((b) => b.changed).sort()).toEqual([false, true]);
      // Conflicting moves at once: the first in the shared log holds; the other is refused by both.
      for (const stage of ['sal', 'sql']) expect((await move(y, 'crm-2', { stage })).status).toBe(200);
      const race = await Promise.all([move(x, 'crm-2', { stage: 'won', amount: 490, currency: 'USD' }), move(y, 'crm-2', { stage: 'lost' })]);
      expect(race.map((r) => r.status).sort()).toEqual([200, 409]);
      const closed = race[0].status === 200 ? 'won' : 'lost';
      for (const c of [x, y]) expect(((await (await c.admin(`/api/sites/${site}/leads/crm-2`)).json()) as { stage: string }).stage).toBe(closed);

      // 4 MQLs, then crm-1 → sal and crm-2 → sal, sql and won/lost: 8 deliveries, each arriving once.
      await waitFor(() => receiver.received.length >= 8, 15_000);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const ids = receiver.received.map((r) => String(r.headers['x-funnelbeam-delivery']));
      expect(new Set(ids).size).toBe(ids.length);
      expect(receiver.received.map((r) => `${r.json.lead}:${r.json.stage}`).sort()).toEqual([
        'crm-1:mql', 'crm-1:sal', `crm-2:${closed}`, 'crm-2:mql', 'crm-2:sal', 'crm-2:sql', 'crm-3:mql', 'crm-4:mql',
      ].sort());
    } finally {
      await x.close();
      await y.close();
      await receiver.close();
    }
  }, limitFor(60_000));

  it('shares funnels: saved through one collector, listed and deleted through the other', async () => {
    const definition = { name: 'Signup', window: '7d', steps: [{ name: 'Landing', event: 'pageview', path: '/' }, { name: 'Signup', event: 'signup' }] };
    const put = await a.admin(`/api/sites/${SITE}/funnels/signup`, { method: 'PUT', body: definition });
    expect(put.status).toBe(201);
    const listed = await b.admin(`/api/sites/${SITE}/funnels`);
    expect(((await listed.json()) as { id: string; name: string }[]).map((f) => [f.id, f.name])).toEqual([['signup', 'Signup']]);
    expect((await b.admin(`/api/sites/${SITE}/funnels/signup`, { method: 'DELETE' })).status).toBe(204);
    expect(await (await a.admin(`/api/sites/${SITE}/funnels`)).json()).toEqual([]);
  });
});
