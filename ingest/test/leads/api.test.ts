// Leads end to end through a real collector: events sent to /api/event score a lead that is
// identified at signup, it becomes an MQL at the threshold, the sales side moves it along,
// and a receiving server verifies every webhook's signature (and sees a retry after a 500).
// The same story runs on both stores: SQLite keeps leads at ingest, ClickHouse replays them.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type RunningCollector } from '../../../test-support/collector.js';
import { earlierToday } from '../../../test-support/clock.js';
import { startWebhookReceiver as startReceiver, waitFor, type ReceivedWebhook } from '../../../test-support/webhookReceiver.js';
import { canSkipClickHouse, startClickHouse, type RunningClickHouse } from '../../../test-support/clickhouse.js';
import type { Config } from '../../src/config.js';
import { utcDay } from '../../src/time.js';

const SITE = 'deals.example.com';
const ORIGIN = `https://${SITE}`;
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const SECRET = 'a-long-enough-test-secret';
const SCORING = {
  threshold: 25,
  rules: [
    { points: 10, event: 'deal_view' },
    { points: 15, event: 'add_to_cart' },
    { points: 5, keywords: ['spa'] },
  ],
};

const verified = (r: ReceivedWebhook) =>
  r.headers['x-funnelbeam-signature'] === `sha256=${createHmac('sha256', SECRET).update(r.body).digest('hex')}`;

let clickhouse: RunningClickHouse | null = null;
const skipClickHouse = canSkipClickHouse();

beforeAll(async () => {
  if (!skipClickHouse) clickhouse = await startClickHouse();
}, 60_000);

afterAll(async () => {
  await clickhouse?.stop();
});

interface Engine {
  name: string;
  overrides(): Partial<Config>;
}

const engines: Engine[] = [
  { name: 'sqlite', overrides: () => ({}) },
  ...(skipClickHouse ? [] : [{ name: 'clickhouse', overrides: () => ({ databaseUrl: clickhouse!.databaseUrlFor('leads_api') }) }]),
];

describe.each(engines)('leads on the $name store', (engine) => {
  let collector: RunningCollector;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let sequence = 0;

  async function send(events: Record<string, unknown>[]) {
    const reply = await fetch(`${collector.url}/api/event`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'user-agent': CHROME },
      body: JSON.stringify(events.map((e) => ({ site: SITE, id: `e${sequence++}`, ...e }))),
    });
    expect(reply.status).toBe(202);
    // On ClickHouse, leads are materialized by one collector a moment later: wait for it.
    await collector.app.store.settled();
  }

  async function json(path: string, init?: { method?: string; body?: unknown }) {
    const reply = await collector.admin(path, init);
    if ((init?.method ?? (init?.body === undefined ? 'GET' : 'POST')) !== 'GET') await collector.app.store.settled();
    return { status: reply.status, body: reply.status === 204 ? null : ((await reply.json()) as any) };
  }

  const now = Date.now();
  /** An hour ago, or less just after midnight: the journeys below (five minutes long) are today's. */
  let T: number;
  const today = utcDay(now);

  beforeAll(async () => {
    T = await earlierToday(60 * 60_000, 300_000);
    receiver = await startReceiver();
    collector = await startCollector({ ...engine.overrides(), webhooks: { allowPrivateAddresses: true, retryBaseMs: 100, pollMs: 25 } });
    expect((await collector.admin('/api/sites', { body: { domain: SITE, origins: [ORIGIN] } })).status).toBe(201);
  });

  afterAll(async () => {
    await collector?.close();
    await receiver?.close();
  });

  describe('scoring and webhook settings', () => {
    it('refuses bad scoring rules naming the field, and keeps good ones', async () => {
      expect(await json(`/api/sites/${SITE}/scoring`)).toMatchObject({ status: 404 });
      const bad = await json(`/api/sites/${SITE}/scoring`, { method: 'PUT', body: { threshold: 25, rules: [{ points: 'ten', event: 'x' }] } });
      expect(bad).toEqual({ status: 400, body: { error: expect.any(String), field: 'rules[0].points' } });
      expect(await json(`/api/sites/${SITE}/scoring`, { method: 'PUT', body: SCORING })).toEqual({ status: 200, body: SCORING });
      expect(await json(`/api/sites/${SITE}/scoring`)).toEqual({ status: 200, body: SCORING });
      expect((await json('/api/sites/nope.example.com/scoring')).status).toBe(404);
    });

    it('refuses webhook URLs that are not http(s), carry credentials or are malformed', async () => {
      for (const [url, field] of [['ftp://crm.example.com/x', 'url'], ['https://user:pw@crm.example.com/x', 'url'], ['not a url', 'url'], [42, 'url']]) {
        const reply = await json(`/api/sites/${SITE}/webhook`, { method: 'PUT', body: { url } });
        expect(reply).toEqual({ status: 400, body: { error: expect.any(String), field } });
      }
      const short = await json(`/api/sites/${SITE}/webhook`, { method: 'PUT', body: { url: receiver.url, secret: 'short' } });
      expect(short.body.field).toBe('secret');
    });

    it('refuses loopback and private addresses unless the collector allows them', async () => {
      const strict = await startCollector();
      try {
        await strict.admin('/api/sites', { body: { domain: SITE, origins: [ORIGIN] } });
        for (const url of ['http://127.0.0.1:9/x', 'http://localhost/x', 'http://10.1.2.3/x', 'http://[::1]/x', 'http://169.254.169.254/latest', 'http://[::ffff:7f00:1]/x']) {
          const reply = await strict.admin(`/api/sites/${SITE}/webhook`, { method: 'PUT', body: { url } });
          expect(reply.status, url).toBe(400);
        }
      } finally {
        await strict.close();
      }
    });

    it('sets the webhook, never shows its secret again, and makes one when none is given', async () => {
      const made = await json(`/api/sites/${SITE}/webhook`, { method: 'PUT', body: { url: receiver.url } });
      expect(made.status).toBe(200);
      expect(made.body.secret).toMatch(/^[A-Za-z0-9_-]{40,}$/);
      const set = await json(`/api/sites/${SITE}/webhook`, { method: 'PUT', body: { url: receiver.url, secret: SECRET } });
      expect(set).toEqual({ status: 200, body: { url: receiver.url, secret: SECRET } });
      expect(await json(`/api/sites/${SITE}/webhook`)).toEqual({ status: 200, body: { url: receiver.url, secret_set: true } });
    });
  });

  describe('a lead from an anonymous visit to a won deal', () => {
    const lead = 'crm-4711';

    it('identifies the visit at signup, keeping its entry source and earlier points', async () => {
      // Anonymous: arrives from a Google ad searching "chicago spa", views a deal.
      await send([
        { name: 'pageview', url: `${ORIGIN}/deals/spa?utm_source=google&utm_medium=cpc&utm_campaign=spa-week&utm_term=chicago+spa`, referrer: 'https://www.google.com/', ts: T, session: 'tab1' },
        { name: 'deal_view', url: `${ORIGIN}/deals/spa`, referrer: `${ORIGIN}/`, ts: T + 60_000, session: 'tab1' },
      ]);
      expect((await json(`/api/sites/${SITE}/leads`)).body.total).toBe(0);
      await send([{ name: 'signup', url: `${ORIGIN}/`, ts: T + 120_000, session: 'tab1', lead }]);
      const { body } = await json(`/api/sites/${SITE}/leads/${lead}`);
      expect(body).toMatchObject({
        lead, stage: 'lead', score: 15, created_at: new Date(T + 120_000).toISOString(), first_seen: new Date(T).toISOString(),
        source: { channel: 'Paid Search', source: 'google', medium: 'cpc', campaign: 'spa-week', term: 'chicago spa', landing: '/deals/spa' },
      });
      expect(body.timeline.map((t: any) => t.name ?? `stage:${t.stage}`)).toEqual(['pageview', 'deal_view', 'signup', 'stage:lead']);
    });

    it('becomes an MQL at the cart that reaches the threshold, and the webhook says so, signed', async () => {
      await send([{ name: 'add_to_cart', url: `${ORIGIN}/deals/spa`, ts: T + 180_000, session: 'tab1' }]);
      const { body } = await json(`/api/sites/${SITE}/leads/${lead}`);
      expect(body).toMatchObject({ stage: 'mql', stage_at: new Date(T + 180_000).toISOString(), score: 30 });
      const hook = await waitFor(() => receiver.received.find((r) => r.json.type === 'lead.mql'));
      expect(verified(hook)).toBe(true);
      expect(hook.headers['x-funnelbeam-event']).toBe('lead.mql');
      expect(hook.json).toEqual({
        type: 'lead.mql', site: SITE, lead, stage: 'mql', from: 'lead', at: new Date(T + 180_000).toISOString(), score: 30,
        entry: expect.objectContaining({ channel: 'Paid Search', source: 'google', campaign: 'spa-week' }),
      });
    });

    it('refuses bad and illegal stage moves', async () => {
      const path = `/api/sites/${SITE}/leads/${lead}/stage`;
      expect(await json(path, { body: { stage: 'mql' } })).toMatchObject({ status: 400, body: { field: 'stage' } });
      expect(await json(path, { body: { stage: 'won', amount: 10 } })).toMatchObject({ status: 400, body: { field: 'currency' } });
      expect(await json(path, { body: { stage: 'won', currency: 'USD' } })).toMatchObject({ status: 400, body: { field: 'amount' } });
      expect(await json(path, { body: { stage: 'won', amount: 10, currency: 'usd' } })).toMatchObject({ status: 400, body: { field: 'currency' } });
      expect(await json(path, { body: { stage: 'sal', amount: 10 } })).toMatchObject({ status: 400, body: { field: 'amount' } });
      expect(await json(path, { body: 'sal' })).toMatchObject({ status: 400 });
      expect(await json(path, { body: { stage: 'sql' } })).toMatchObject({ status: 409, body: { field: 'stage', stage: 'mql' } });
      expect(await json(`/api/sites/${SITE}/leads/nobody/stage`, { body: { stage: 'sal' } })).toMatchObject({ status: 404, body: { field: 'lead' } });
    });

    it('moves to SAL, SQL and won; a retried move changes nothing; a won lead does not move', async () => {
      const path = `/api/sites/${SITE}/leads/${lead}/stage`;
      receiver.statuses.push(500); // the CRM fails the first delivery of the SAL change
      expect(await json(path, { body: { stage: 'sal' } })).toMatchObject({ status: 200, body: { stage: 'sal', changed: true } });
      expect(await json(path, { body: { stage: 'sal' } })).toMatchObject({ status: 200, body: { stage: 'sal', changed: false } });
      expect(await json(path, { body: { stage: 'sql' } })).toMatchObject({ status: 200, body: { stage: 'sql' } });
      const won = await json(path, { body: { stage: 'won', amount: 490, currency: 'USD' } });
      expect(won).toMatchObject({ status: 200, body: { stage: 'won', won: { amount: 490, currency: 'USD' }, waiting_ms: null } });
      expect(won.body.stages.map((s: any) => s.stage)).toEqual(['lead', 'mql', 'sal', 'sql', 'won']);
      expect(await json(path, { body: { stage: 'lost' } })).toMatchObject({ status: 409, body: { stage: 'won' } });
    });

    it('retries a delivery that got a 500, with the same signed body', async () => {
      const sal = await waitFor(() => {
        const got = receiver.received.filter((r) => r.json.type === 'lead.stage' && r.json.stage === 'sal');
        return got.length >= 2 && got;
      });
      expect(sal).toHaveLength(2);
      expect(sal[1].body).toBe(sal[0].body);
      expect(sal.every(verified)).toBe(true);
      const won = await waitFor(() => receiver.received.find((r) => r.json.stage === 'won'));
      expect(won.json).toMatchObject({ type: 'lead.stage', from: 'sql', amount: 490, currency: 'USD' });
      // The lead's later changes waited for the retried one: the CRM sees them in order.
      expect(receiver.received.filter((r) => r.json.lead === 'crm-4711').map((r) => r.json.stage)).toEqual(['mql', 'sal', 'sal', 'sql', 'won']);
    });

    it('lists leads by stage, and reports the sales funnel', async () => {
      // A second lead, from a newsletter, that stays a lead; its e-mail is never stored.
      await send([{ name: 'signup', url: `${ORIGIN}/?utm_source=newsletter&utm_medium=email`, ts: T + 240_000, visitor: 'v2', lead: 'Ann@Example.com' }]);
      const list = (await json(`/api/sites/${SITE}/leads`)).body;
      expect(list.total).toBe(2);
      expect(list.leads.map((l: any) => l.lead)).toEqual([expect.stringMatching(/^h:/), lead]);
      expect(JSON.stringify(list)).not.toMatch(/example\.com"|Ann@/i);
      const won = (await json(`/api/sites/${SITE}/leads?stage=won`)).body;
      expect(won.leads.map((l: any) => l.lead)).toEqual([lead]);
      expect((await json(`/api/sites/${SITE}/leads?stage=nope`)).status).toBe(400);
      expect((await json(`/api/sites/${SITE}/leads?limit=1&offset=1&sort=score`)).body.leads.map((l: any) => l.score)).toEqual([0]);

      const report = (await json(`/api/sites/${SITE}/sales-funnel?from=${today}&to=${today}&breakdown=channel`)).body;
      expect(report).toMatchObject({ leads: 2, won: 1, lost: 0, conversion_rate: 0.5, close_rate: 1, revenue: { USD: 490 } });
      expect(report.stages.map((s: any) => s.reached)).toEqual([2, 1, 1, 1, 1]);
      expect(report.stages[0].waiting.count).toBe(1);
      expect(report.breakdown.map((b: any) => [b.key, b.leads, b.won])).toEqual([['Email', 1, 0], ['Paid Search', 1, 1]]);
      expect((await json(`/api/sites/${SITE}/sales-funnel?from=${today}`)).status).toBe(400);
    });

    it('scores the site\'s leads again when the rules change', async () => {
      const rules = { ...SCORING, rules: [...SCORING.rules, { points: 40, channel: 'Email' }] };
      expect((await json(`/api/sites/${SITE}/scoring`, { method: 'PUT', body: rules })).status).toBe(200);
      const list = (await json(`/api/sites/${SITE}/leads?sort=score`)).body.leads;
      expect(list.map((l: any) => [l.score, l.stage])).toEqual([[40, 'mql'], [30, 'won']]);
      await waitFor(() => receiver.received.find((r) => r.json.type === 'lead.mql' && r.json.lead.startsWith('h:')));
    });
  });

  describe('across a restart', () => {
    it('keeps leads and stages, and delivers a webhook queued while the CRM was down', async () => {
      const dir = collector.dir;
      const config = { ...engine.overrides(), webhooks: { allowPrivateAddresses: true, retryBaseMs: 100, pollMs: 25 } };
      // The CRM is down: a delivery fails and waits in the outbox.
      const down = await startReceiver();
      await down.close();
      await json(`/api/sites/${SITE}/webhook`, { method: 'PUT', body: { url: down.url, secret: SECRET } });
      const leadId = (await json(`/api/sites/${SITE}/leads?stage=mql`)).body.leads[0].lead;
      expect((await json(`/api/sites/${SITE}/leads/${encodeURIComponent(leadId)}/stage`, { body: { stage: 'lost' } })).status).toBe(200);
      // An anonymous visit under way when the collector restarts.
      await send([{ name: 'pageview', url: `${ORIGIN}/deals/spa?utm_source=fb&utm_medium=social&utm_campaign=relaunch`, ts: T + 250_000, visitor: 'v9', session: 'tab9' }]);
      await collector.app.close();

      collector = await startCollector(config, dir);
      const lost = (await json(`/api/sites/${SITE}/leads?stage=lost`)).body.leads;
      expect(lost.map((l: any) => l.lead)).toEqual([leadId]);
      expect((await json(`/api/sites/${SITE}/leads/crm-4711`)).body).toMatchObject({ stage: 'won', score: 30 });
      // The CRM is back: point the webhook at it, and the pending delivery arrives.
      await json(`/api/sites/${SITE}/webhook`, { method: 'PUT', body: { url: receiver.url, secret: SECRET } });
      const hook = await waitFor(() => receiver.received.find((r) => r.json.stage === 'lost'));
      expect(verified(hook)).toBe(true);
      // The visit signs up after the restart: its anonymous start still joins the lead.
      await send([{ name: 'signup', url: `${ORIGIN}/`, ts: T + 260_000, visitor: 'v9', session: 'tab9', lead: 'after-restart' }]);
      const joined = (await json(`/api/sites/${SITE}/leads/after-restart`)).body;
      expect(joined).toMatchObject({ first_seen: new Date(T + 250_000).toISOString(), source: { campaign: 'relaunch', landing: '/deals/spa' } });
      expect(joined.timeline.map((t: any) => t.name ?? t.stage)).toEqual(['pageview', 'signup', 'lead']);
      // A later visit of the identified visitor still belongs to the lead after the restart.
      await send([{ name: 'deal_view', url: `${ORIGIN}/deals/spa`, ts: T + 300_000, session: 'tab2' }]);
      expect((await json(`/api/sites/${SITE}/leads/crm-4711`)).body.score).toBe(40);
    });
  });

  describe('removing settings', () => {
    it('deletes the webhook and the scoring rules; leads keep their stages', async () => {
      expect((await json(`/api/sites/${SITE}/webhook`, { method: 'DELETE' })).status).toBe(204);
      expect((await json(`/api/sites/${SITE}/webhook`)).status).toBe(404);
      expect((await json(`/api/sites/${SITE}/webhook`, { method: 'DELETE' })).status).toBe(404);
      expect((await json(`/api/sites/${SITE}/scoring`, { method: 'DELETE' })).status).toBe(204);
      expect((await json(`/api/sites/${SITE}/scoring`)).status).toBe(404);
      expect((await json(`/api/sites/${SITE}/leads/crm-4711`)).body).toMatchObject({ stage: 'won', score: 0 });
    });
  });
});
