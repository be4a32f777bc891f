// The report's comparisons over real HTTP: `breakdown=variant` adds each variant's conversion
// with its interval and its test against the control; `compare=previous` adds the report of the
// range of equal length just before. Their bad values get a 400 naming the field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type RunningCollector } from '../../test-support/collector.js';
import { twoProportionPValue } from '../src/funnel/variants.js';
import { DAY_MS, utcDay } from '../src/time.js';

const SITE = 'ab.example.com';
const now = Date.now();
const today = utcDay(now);
const yesterday = utcDay(now - DAY_MS);
const startOfToday = Date.parse(`${today}T00:00:00Z`);
// Inside today whatever the hour (and never in the future), and yesterday's noon.
const TODAY = startOfToday + Math.floor((now - startOfToday) / 2);
const YESTERDAY = startOfToday - 12 * 3_600_000;

let collector: RunningCollector;
let serial = 0;

/** `visitors` landings on a variant's page at `at`, the first `converting` of them signing up a minute later. */
async function cohort(variant: string, visitors: number, converting: number, at: number) {
  const events = Array.from({ length: visitors }, (_, i) => {
    const visitor = `${variant}-${at}-${i}`;
    const landing = { site: SITE, name: 'pageview', url: `https://${SITE}/`, visitor, variant, id: `e${serial++}`, ts: at + i };
    return i < converting ? [landing, { ...landing, name: 'signup', id: `e${serial++}`, ts: at + i + 60_000 }] : [landing];
  }).flat();
  await collector.sendEvents(events);
}

async function report(query: string) {
  const reply = await collector.admin(`/api/sites/${SITE}/funnels/signup/report?${query}`);
  return { status: reply.status, body: (await reply.json()) as any };
}

beforeAll(async () => {
  collector = await startCollector();
  expect((await collector.admin('/api/sites', { body: { domain: SITE } })).status).toBe(201);
  await cohort('A', 40, 8, TODAY);
  await cohort('B', 40, 20, TODAY);
  await cohort('A', 10, 5, YESTERDAY);
  const funnel = { name: 'Signup', window: '1h', steps: [{ name: 'Landing', event: 'pageview', path: '/' }, { name: 'Signup', event: 'signup' }] };
  expect((await collector.admin(`/api/sites/${SITE}/funnels/signup`, { method: 'PUT', body: funnel })).status).toBe(201);
  await collector.app.store.settled();
});

afterAll(async () => {
  await collector.close();
});

describe('variants', () => {
  it('gives each variant its conversion, interval and test against the control, from the breakdown’s numbers', async () => {
    const { status, body } = await report(`from=${today}&to=${today}&breakdown=variant`);
    expect(status).toBe(200);
    const byName = Object.fromEntries(body.variants.map((v: any) => [v.variant, v]));
    expect(byName.A).toMatchObject({ entered: 40, converted: 8, conversion_rate: 0.2, vs_control: null });
    expect(byName.B).toMatchObject({ entered: 40, converted: 20, conversion_rate: 0.5 });
    expect(byName.B.vs_control.uplift).toBeCloseTo(1.5, 10);
    expect(byName.B.vs_control.p_value).toBeCloseTo(twoProportionPValue(20, 40, 8, 40), 12);
    expect(byName.B.vs_control.p_value).toBeLessThan(0.01);
    expect(byName.B.vs_control.significant).toBe(true);
    for (const v of body.variants) expect(v.ci95[0] <= v.conversion_rate && v.conversion_rate <= v.ci95[1]).toBe(true);
    // The same counts as the breakdown it is made from.
    for (const row of body.breakdown) expect(byName[row.key].entered).toBe(row.steps[0].entered);
  });

  it('compares with the control asked for', async () => {
    const { body } = await report(`from=${today}&to=${today}&breakdown=variant&control=B`);
    const a = body.variants.find((v: any) => v.variant === 'A');
    expect(a.vs_control.uplift).toBeCloseTo(-0.6, 10);
    expect(body.variants.find((v: any) => v.variant === 'B').vs_control).toBeNull();
  });

  it('is there only with breakdown=variant', async () => {
    expect((await report(`from=${today}&to=${today}`)).body.variants).toBeUndefined();
  });
});

describe('compare=previous', () => {
  it('adds the report of the range of equal length just before', async () => {
    const { body } = await report(`from=${today}&to=${today}&compare=previous`);
    const before = (await report(`from=${yesterday}&to=${yesterday}`)).body;
    expect(body.entered).toBe(80);
    expect(body.previous.entered).toBe(10);
    expect(body.previous.converted).toBe(5);
    const { fresh_until: _a, ...previous } = body.previous;
    const { fresh_until: _b, ...expected } = before;
    expect(previous).toEqual(expected);
  });
});

describe('bad comparisons', () => {
  it('get a 400 naming the field', async () => {
    for (const [query, field] of [['compare=next', 'compare'], ['control=', 'control'], ['breakdown=colour', 'breakdown']]) {
      const { status, body } = await report(`from=${today}&to=${today}&${query}`);
      expect(status, query).toBe(400);
      expect(body.field).toBe(field);
    }
  });
});
