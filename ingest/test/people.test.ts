// Who dropped, and why, over real HTTP: a people list per step and status that pages to the
// report's counts, a unit's journey, and the factors that separate goers from leavers (a
// newsletter audience that signs up far more often must come first). Bad values get a 400
// naming the field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type RunningCollector } from '../../test-support/collector.js';
import { DAY_MS, utcDay } from '../src/time.js';

const SITE = 'people.example.com';
const now = Date.now();
const today = utcDay(now);
const yesterday = utcDay(now - DAY_MS);
// Yesterday's noon: windows of one hour are closed (dropped, not in flight) by now.
const NOON = Date.parse(`${yesterday}T12:00:00Z`);
const RANGE = `from=${yesterday}&to=${today}`;

let collector: RunningCollector;
let serial = 0;

/**
 * `visitors` landings from a source at `at`, each viewing /pricing; the first `converting` of
 * them sign up two minutes later.
 */
async function cohort(source: string, visitors: number, converting: number, at: number) {
  const events = Array.from({ length: visitors }, (_, i) => {
    const visitor = `${source}-${i}`;
    const base = { site: SITE, visitor, ts: at + i * 1_000 };
    const landing = { ...base, name: 'pageview', url: `https://${SITE}/?utm_source=${source}&utm_medium=email`, id: `e${serial++}` };
    const pricing = { ...base, name: 'pageview', url: `https://${SITE}/pricing`, id: `e${serial++}`, ts: base.ts + 60_000 };
    const signup = { ...base, name: 'signup', url: `https://${SITE}/pricing`, id: `e${serial++}`, ts: base.ts + 120_000 };
    return i < converting ? [landing, pricing, signup] : [landing, pricing];
  }).flat();
  await collector.sendEvents(events);
}

async function get(path: string) {
  const reply = await collector.admin(path);
  return { status: reply.status, body: (await reply.json()) as any };
}

beforeAll(async () => {
  collector = await startCollector();
  expect((await collector.admin('/api/sites', { body: { domain: SITE } })).status).toBe(201);
  await cohort('newsletter', 40, 30, NOON);
  await cohort('ads', 60, 6, NOON + 3_600_000);
  const funnel = { name: 'Signup', window: '1h', steps: [{ name: 'Landing', event: 'pageview', path: '/' }, { name: 'Signup', event: 'signup' }] };
  expect((await collector.admin(`/api/sites/${SITE}/funnels/signup`, { method: 'PUT', body: funnel })).status).toBe(201);
  await collector.app.store.settled();
});

afterAll(async () => {
  await collector.close();
});

describe('people', () => {
  it('pages through each status to the report’s counts', async () => {
    const report = (await get(`/api/sites/${SITE}/funnels/signup/report?${RANGE}`)).body;
    expect(report.steps[0].entered).toBe(100);
    const all = async (query: string) => {
      const people: any[] = [];
      let cursor: string | null = null;
      do {
        const { status, body } = await get(`/api/sites/${SITE}/funnels/signup/people?${RANGE}&${query}&limit=30${cursor ? `&cursor=${cursor}` : ''}`);
        expect(status).toBe(200);
        people.push(...body.people);
        cursor = body.next_cursor;
      } while (cursor);
      return people;
    };
    expect((await all('step=1&status=reached')).length).toBe(report.steps[0].entered);
    const dropped = await all('step=1&status=dropped');
    expect(dropped.length).toBe(report.steps[0].exited - report.steps[0].in_flight);
    expect(dropped.length).toBe(64);
    expect((await all('step=1&status=in_flight')).length).toBe(report.steps[0].in_flight);
    const converted = await all('status=converted');
    expect(converted.length).toBe(report.steps[1].entered);
    expect(new Set(converted.map((p) => p.unit)).size).toBe(36);
    expect(converted[0]).toMatchObject({ visitor: 'newsletter-0', unit: 'visitor:newsletter-0', lead: null, furthest_step: 2, source: 'newsletter', exit_path: null });
    expect(Date.parse(converted[0].entered_at)).toBe(NOON);
    expect(Date.parse(converted[0].last_seen)).toBe(NOON + 120_000);
    // A leaver's exit page is the page it went to after the last step it reached.
    expect(dropped.find((p) => p.visitor === 'ads-59')).toMatchObject({ furthest_step: 1, exit_path: '/pricing' });
  });

  it('opens a unit’s journey, in time order', async () => {
    const { status, body } = await get(`/api/sites/${SITE}/visitors/${encodeURIComponent('visitor:newsletter-0')}/events`);
    expect(status).toBe(200);
    expect(body.events.map((e: any) => [e.name, e.path])).toEqual([['pageview', '/'], ['pageview', '/pricing'], ['signup', '/pricing']]);
    expect(body.events[0]).toMatchObject({ source: 'newsletter', visitor: 'newsletter-0' });
    expect((await get(`/api/sites/${SITE}/visitors/newsletter-0/events?limit=1`)).body.events).toHaveLength(1);
  });

  it('says which factors separate those who went on, most significant first', async () => {
    const { status, body } = await get(`/api/sites/${SITE}/funnels/signup/correlation?${RANGE}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ went_on: 36, stopped: 64 });
    const [top] = body.factors;
    // 30 of 40 from the newsletter against 6 of 60 from ads: 0.75 / 0.1.
    expect(top).toMatchObject({ kind: 'source', went_on: 30, stopped: 10, rate_ratio: 7.5 });
    expect(top.value === 'newsletter').toBe(true);
    expect(top.p_value).toBeLessThan(1e-6);
    expect(top.odds_ratio).toBeCloseTo((30.5 * 54.5) / (10.5 * 6.5), 2);
    // Everyone viewed /pricing before signing up: with no one without it, it separates nothing.
    expect(body.factors.some((f: any) => f.kind === 'page' && f.value === '/pricing')).toBe(false);
    expect(body.factors.map((f: any) => `${f.kind}:${f.value}`)).toEqual(['source:newsletter', 'source:ads']);
  });

  it('refuses bad values with a 400 naming the field', async () => {
    const cases: [string, string][] = [
      [`/funnels/signup/people?${RANGE}&status=gone`, 'status'],
      [`/funnels/signup/people?${RANGE}&step=3`, 'step'],
      [`/funnels/signup/people?${RANGE}&step=0`, 'step'],
      [`/funnels/signup/people?${RANGE}&cursor=not-a-cursor`, 'cursor'],
      [`/funnels/signup/people?${RANGE}&limit=5000`, 'limit'],
      [`/funnels/signup/people?from=${today}&to=${yesterday}`, 'to'],
      [`/funnels/signup/correlation?${RANGE}&step=2`, 'step'],
      [`/funnels/signup/correlation?${RANGE}&step=x`, 'step'],
      [`/visitors/a/events?limit=0`, 'limit'],
    ];
    for (const [path, field] of cases) {
      const { status, body } = await get(`/api/sites/${SITE}${path}`);
      expect({ path, status, field: body.field }).toEqual({ path, status: 400, field });
    }
    expect((await get(`/api/sites/${SITE}/funnels/missing/people?${RANGE}`)).status).toBe(404);
  });
});
