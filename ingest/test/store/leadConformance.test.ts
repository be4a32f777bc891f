// Leads must not depend on the store: SQLite keeps them at ingest in memory, ClickHouse replays
// them from the shared log. Random scripts of visits (anonymous starts, signups naming leads,
// later visits, retried copies), stage moves and changes of scoring rules, webhook and CRM connectors run on
// both, in the same order; the leads, their timelines, every move's answer and the pending
// webhook deliveries must be equal.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Store, WebhookDelivery } from '../../src/store/types.js';
import type { StoredEvent } from '../../src/event.js';
import type { ScoringRules } from '../../src/leads/scoring.js';
import type { StageMoveResult } from '../../src/leads/lead.js';
import { SALES_STAGES, type SalesStage } from '../../src/leads/stages.js';
import { OUTBOUND_TARGETS, type OutboundTarget } from '../../src/leads/outbound.js';
import { bothStores, skipClickHouse } from './bothStores.js';
import { storedEvent } from './fixture.js';

const both = bothStores('lead_conformance');

const MIN = 60_000;
const T0 = Date.UTC(2026, 2, 2, 9);
const LEADS = ['crm-1', 'crm-2', 'crm-3'];
const RULES: (ScoringRules | null)[] = [
  null,
  { threshold: 20, rules: [{ points: 10, event: 'deal_view' }, { points: 15, event: 'add_to_cart' }, { points: 5, channel: 'Paid Search' }] },
  {
    threshold: 30, decay: { halfLifeDays: 1 },
    rules: [{ points: 12, event: 'pageview', path: '/deals/*' }, { points: 20, keywords: ['spa'] }, { points: -5, event: 'purchase' }],
  },
];
const WEBHOOK = { url: 'https://crm.example.com/hook', secret: 'a-long-enough-test-secret' };
const TARGET_SETTINGS = {
  webhook: WEBHOOK,
  hubspot: { accessToken: 'hubspot-token', clientSecret: 'hubspot-secret', stages: { mql: 'marketingqualifiedlead' } },
  pipedrive: { apiToken: 'pipedrive-token', webhookUser: 'funnelbeam', webhookPassword: 'a-long-password' },
};

const eventArb = fc.record({
  name: fc.constantFrom('pageview', 'deal_view', 'add_to_cart', 'signup', 'purchase'),
  path: fc.constantFrom('/', '/deals/spa', '/deals/golf', '/cart'),
  lead: fc.option(fc.constantFrom(...LEADS), { freq: 4 }),
});
const sessionArb = fc.record({
  channel: fc.constantFrom('Direct', 'Paid Search', 'Email'),
  campaign: fc.option(fc.constantFrom('spa-week', 'relaunch')),
  term: fc.option(fc.constantFrom('chicago spa', 'golf')),
  events: fc.array(eventArb, { minLength: 1, maxLength: 6 }),
});
/** Visitors, each with up to three visits; all within 2 hours, so no visit leaves SQLite's buffer. */
const visitorsArb = fc.array(fc.array(sessionArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 5 });

type Step =
  | { kind: 'batch'; size: number; retry: boolean }
  | { kind: 'move'; lead: string; stage: SalesStage; amount: boolean }
  | { kind: 'scoring'; rules: number }
  | { kind: 'outbound'; target: OutboundTarget; on: boolean };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('batch' as const), size: fc.integer({ min: 1, max: 8 }), retry: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('move' as const), lead: fc.constantFrom(...LEADS), stage: fc.constantFrom(...SALES_STAGES), amount: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('scoring' as const), rules: fc.integer({ min: 0, max: RULES.length - 1 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('outbound' as const), target: fc.constantFrom(...OUTBOUND_TARGETS), on: fc.boolean() }) },
);

type Visit = typeof sessionArb extends fc.Arbitrary<infer T> ? T : never;

function storedEvents(site: string, visitors: Visit[][]): StoredEvent[] {
  const events = visitors.flatMap((sessions, v) => sessions.flatMap((session, s) => session.events.map((e, i) => {
    const ts = T0 + s * 35 * MIN + i * 2 * MIN + v * 7_000;
    return storedEvent({
      site, ts, client_ts: ts, id: `e${v}-${s}-${i}`, visitor: `v${v}`, session: `v${v}-s${s}`, name: e.name, path: e.path,
      url: `https://${site}${e.path}`, landing: session.events[0].path, lead: e.lead, channel: session.channel,
      campaign: session.campaign, term: session.term, source: session.channel === 'Paid Search' ? 'google' : null,
    });
  })));
  return events.sort((a, b) => a.ts - b.ts);
}

/** A move's answer without the record (compared on its own through `leads`). */
const answer = (result: StageMoveResult) =>
  result.ok ? { ok: true, changed: result.changed, stage: result.record.stage, change: result.change } : result;

/** Of each lead, the delivery that is next (the others wait for it), for one site. */
async function nextDeliveries(store: Store, site: string): Promise<Omit<WebhookDelivery, 'id' | 'nextAt' | 'createdAt'>[]> {
  const due = await store.dueWebhookDeliveries(Date.now() + 3_600_000, 10_000);
  return due.filter((d) => d.site === site).map(({ site: s, lead, target, type, body, attempts }) => ({ site: s, lead, target, type, body, attempts }))
    .sort((a, b) => (a.body < b.body ? -1 : a.body > b.body ? 1 : a.target < b.target ? -1 : 1));
}

describe.skipIf(skipClickHouse)('leads on SQLite and on ClickHouse', () => {
  let run = 0;

  it('are equal for random visits, signups, stage moves and changes of rules, webhook and CRM connectors', async () => {
    await fc.assert(
      fc.asyncProperty(visitorsArb, fc.integer({ min: 0, max: RULES.length - 1 }), fc.boolean(), fc.array(stepArb, { minLength: 1, maxLength: 12 }), async (visitors, rules, webhook, steps) => {
        const site = `leads${++run}.example.com`;
        for (const store of [both.sqlite, both.clickhouse]) await store.putLeadSettings(site, { scoring: RULES[rules], ...(webhook ? { webhook: WEBHOOK } : {}) });
        const events = storedEvents(site, visitors);
        let written = 0;
        let clock = T0 + 3 * 3_600_000;
        // The rest of the events arrive after the script.
        for (const step of [...steps, { kind: 'batch', size: events.length, retry: false } as const]) {
          if (step.kind === 'batch') {
            const batch = events.slice(written, written + step.size);
            // A retried copy of an earlier event, stored at its later arrival: the first copy counts.
            if (step.retry && written > 0) batch.push({ ...events[written - 1], ts: events[written - 1].ts + 5_000 });
            written = Math.min(events.length, written + step.size);
            for (const store of [both.sqlite, both.clickhouse]) await store.write({ events: batch, bots: [] });
          } else if (step.kind === 'move') {
            const move = { stage: step.stage, at: (clock += MIN), ...(step.stage === 'won' && step.amount ? { amount: 490, currency: 'USD' } : {}) };
            const expected = answer(await both.sqlite.moveLeadStage(site, step.lead, move));
            expect(answer(await both.clickhouse.moveLeadStage(site, step.lead, move))).toEqual(expected);
          } else {
            const settings = step.kind === 'scoring' ? { scoring: RULES[step.rules] } : { [step.target]: step.on ? TARGET_SETTINGS[step.target] : null };
            for (const store of [both.sqlite, both.clickhouse]) await store.putLeadSettings(site, settings);
          }
        }
        for (const store of [both.sqlite, both.clickhouse]) await store.settled();
        const expected = await both.sqlite.leads(site);
        const byLead = (a: { lead: string }, b: { lead: string }) => (a.lead < b.lead ? -1 : 1);
        expect((await both.clickhouse.leads(site)).sort(byLead)).toEqual(expected.sort(byLead));
        for (const { lead } of expected) expect(await both.clickhouse.leadEvents(site, lead, 1000)).toEqual(await both.sqlite.leadEvents(site, lead, 1000));
        expect(await both.clickhouse.getLeadSettings(site)).toEqual(await both.sqlite.getLeadSettings(site));
        expect(await nextDeliveries(both.clickhouse, site)).toEqual(await nextDeliveries(both.sqlite, site));
      }),
      { numRuns: 25 },
    );
  }, 300_000);
});
