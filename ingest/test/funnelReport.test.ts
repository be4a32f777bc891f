// Known journeys sent through POST /api/event; every report field checked against numbers
// computed by hand. The funnel is defined after most events arrived (retroactive back-fill),
// and one journey arrives after it (kept current at ingest).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type RunningCollector } from '../../test-support/collector.js';
import { earlierToday } from '../../test-support/clock.js';
import { DAY_MS, utcDay } from '../src/time.js';

const SITE = 'deals.example.com';
const ORIGIN = `https://${SITE}`;
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;

const now = Date.now();
// Two UTC days back, at the start of the day: inside the three days of client time the collector trusts.
const dayOfJourneys = utcDay(now - 2 * DAY_MS);
const T0 = Date.parse(`${dayOfJourneys}T00:00:00Z`) + 5 * SEC;
const today = utcDay(now);

const funnel = {
  name: 'Deal purchase',
  window: '2h',
  steps: [
    { name: 'Landing', event: 'pageview', path: '/' },
    { name: 'Signup', event: 'signup' },
    { name: 'Deal detail', event: 'pageview', path: '/deals/*' },
    { name: 'Cart', event: 'add_to_cart' },
    { name: 'Purchase', event: 'purchase', props: { paid: 'true' } },
  ],
};

let collector: RunningCollector;
let sequence = 0;

type Step = [offsetMs: number, name: string, path: string, extra?: Record<string, unknown>];

/** One visitor's journey: a session of events sent in one batch, as the snippet's retry queue would. */
async function journey(visitor: string, start: number, steps: Step[], first: { referrer?: string; query?: string; ua?: string } = {}) {
  const body = steps.map(([offset, name, path, extra], i) => ({
    site: SITE,
    name,
    url: `${ORIGIN}${path}${i === 0 ? first.query ?? '' : ''}`,
    referrer: i === 0 ? first.referrer ?? '' : `${ORIGIN}/`,
    id: `e${sequence++}`,
    ts: start + offset,
    visitor,
    session: `${visitor}-s1`,
    ...extra,
  }));
  const reply = await fetch(`${collector.url}/api/event`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', 'user-agent': first.ua ?? CHROME },
    body: JSON.stringify(body),
  });
  expect(reply.status).toBe(202);
}

async function report(query = '') {
  const reply = await collector.admin(`/api/sites/${SITE}/funnels/deal/report?from=${dayOfJourneys}&to=${today}${query}`);
  expect(reply.status).toBe(200);
  return reply.json() as Promise<any>;
}

beforeAll(async () => {
  collector = await startCollector();
  expect((await collector.admin('/api/sites', { body: { domain: SITE, origins: [ORIGIN] } })).status).toBe(201);

  // A: from Google, buys (paid) 10 minutes in.
  await journey('A', T0, [
    [0, 'pageview', '/'], [1 * MIN, 'signup', '/', { engaged_ms: 4000 }], [3 * MIN, 'pageview', '/deals/spa'],
    [5 * MIN, 'add_to_cart', '/deals/spa'], [10 * MIN, 'purchase', '/thanks', { props: { paid: 'true' }, revenue: { amount: 25, currency: 'USD' } }],
  ], { referrer: 'https://www.google.com/' });
  // B: direct, reaches the deal, then goes to /about.
  await journey('B', T0, [
    [0, 'pageview', '/'], [2 * MIN, 'signup', '/', { engaged_ms: 8000 }], [4 * MIN, 'pageview', '/deals/spa'], [5 * MIN, 'pageview', '/about'],
  ]);
  // C: from the newsletter, lands and leaves.
  await journey('C', T0, [[0, 'pageview', '/']], { query: '?utm_source=newsletter&utm_medium=email' });
  // D: from Facebook, signs up and leaves; on an iPhone.
  await journey('D', T0, [[0, 'pageview', '/'], [30 * SEC, 'signup', '/', { engaged_ms: 2000 }]], { referrer: 'https://l.facebook.com/', ua: IPHONE });
  // E: a Google ad; the purchase is not paid, so it stops at the cart.
  await journey('E', T0, [
    [0, 'pageview', '/'], [4 * MIN, 'signup', '/'], [6 * MIN, 'pageview', '/deals/spa'], [7 * MIN, 'add_to_cart', '/deals/spa'],
    [8 * MIN, 'purchase', '/thanks', { props: { paid: 'false' } }],
  ], { query: '?utm_source=google&utm_medium=cpc&utm_campaign=spa', referrer: 'https://www.google.com/' });
  // F: signs up before landing: out of order, only the landing counts.
  await journey('F', T0, [[0, 'signup', '/'], [1 * MIN, 'pageview', '/']]);
  // G: signs up three hours after landing: outside the 2h window.
  await journey('G', T0, [[0, 'pageview', '/'], [3 * HOUR, 'signup', '/']]);

  // Defined after the fact: the report covers the events above.
  const put = await collector.admin(`/api/sites/${SITE}/funnels/deal`, { method: 'PUT', body: funnel });
  expect(put.status).toBe(201);

  // H: arrives after the funnel exists, ten minutes ago (today, whatever the hour); its window is still open.
  await journey('H', await earlierToday(10 * MIN, 1 * MIN), [[0, 'pageview', '/'], [1 * MIN, 'signup', '/']]);
});

afterAll(async () => {
  await collector.close();
});

describe('funnel report', () => {
  it('counts entered, exited, in flight and exit rate per step', async () => {
    const r = await report();
    expect(r.steps.map((s: any) => [s.name, s.entered, s.exited, s.in_flight])).toEqual([
      ['Landing', 8, 3, 0],
      ['Signup', 5, 2, 1],
      ['Deal detail', 3, 1, 0],
      ['Cart', 2, 1, 0],
      ['Purchase', 1, 0, 0],
    ]);
    expect(r.steps.map((s: any) => s.exit_rate)).toEqual([3 / 8, 2 / 5, 1 / 3, 1 / 2, 0]);
    expect(r.converted).toBe(1);
    expect(r.conversion_rate).toBe(1 / 8);
    expect(r.close_rate).toBe(1 / 2);
    expect(r.revenue).toEqual({ USD: 25 });
  });

  it('says where each step’s leavers went', async () => {
    const r = await report();
    expect(r.steps.map((s: any) => s.exits_to)).toEqual([
      [{ path: null, count: 3 }],
      [{ path: null, count: 2 }],
      [{ path: '/about', count: 1 }],
      [{ path: null, count: 1 }],
      [],
    ]);
  });

  it('measures time to the next step and engagement per stage', async () => {
    const r = await report();
    // Landing → Signup: D 30 s, A 60 s, H 60 s, B 120 s, E 240 s (nearest rank).
    expect(r.steps[0].time_to_next_ms).toEqual({ median: 60 * SEC, p90: 240 * SEC });
    // Cart → Purchase: A only, 5 minutes.
    expect(r.steps[3].time_to_next_ms).toEqual({ median: 5 * MIN, p90: 5 * MIN });
    // Engaged time reported in stage 1 (D 2 s, A 4 s, B 8 s).
    expect(r.steps[0].engaged_ms_median).toBe(4000);
  });

  it('gives the entry sources with conversions', async () => {
    const r = await report();
    const sources = Object.fromEntries(r.sources.map((s: any) => [`${s.channel}/${s.source}`, [s.entered, s.converted]]));
    expect(sources).toEqual({
      'Direct/null': [4, 0],
      'Organic Search/google': [1, 1],
      'Email/newsletter': [1, 0],
      'Organic Social/facebook': [1, 0],
      'Paid Search/google': [1, 0],
    });
    expect(r.sources[0]).toMatchObject({ channel: 'Direct', entered: 4 });
    const campaigns = Object.fromEntries(r.campaigns.map((c: any) => [`${c.channel}/${c.source}/${c.campaign}`, [c.entered, c.converted]]));
    expect(campaigns).toEqual({
      'Direct/null/null': [4, 0],
      'Organic Search/google/null': [1, 1],
      'Email/newsletter/null': [1, 0],
      'Organic Social/facebook/null': [1, 0],
      'Paid Search/google/spa': [1, 0],
    });
  });

  it('breaks down by channel and by device, the parts adding up', async () => {
    const byChannel = await report('&breakdown=channel');
    const direct = byChannel.breakdown.find((b: any) => b.key === 'Direct');
    expect(direct.steps.map((s: any) => s.entered)).toEqual([4, 2, 1, 0, 0]);
    const byDevice = await report('&breakdown=device');
    const devices = Object.fromEntries(byDevice.breakdown.map((b: any) => [b.key, b.steps[0].entered]));
    expect(devices).toEqual({ desktop: 7, mobile: 1 });
    for (const k of [0, 1, 2, 3, 4]) {
      expect(byChannel.breakdown.reduce((sum: number, b: any) => sum + b.steps[k].entered, 0)).toBe(byChannel.steps[k].entered);
    }
  });

  it('draws the daily trend over the range', async () => {
    const r = await report();
    const entered = Object.fromEntries(r.trend.map((t: any) => [t.date, [t.entered, t.converted]]));
    expect(entered[dayOfJourneys]).toEqual([7, 1]);
    expect(entered[today]).toEqual([1, 0]);
    expect(r.trend).toHaveLength(3);
  });

  it('limits the range to entries whose step 1 falls inside it', async () => {
    const reply = await collector.admin(`/api/sites/${SITE}/funnels/deal/report?from=${today}&to=${today}`);
    const r = (await reply.json()) as any;
    expect(r.steps.map((s: any) => s.entered)).toEqual([1, 1, 0, 0, 0]);
  });

  it('previews an unsaved definition with the same numbers', async () => {
    const reply = await collector.admin(`/api/sites/${SITE}/funnels/preview?from=${dayOfJourneys}&to=${today}`, { body: funnel });
    expect(reply.status).toBe(200);
    const preview = (await reply.json()) as any;
    expect(preview.steps.map((s: any) => s.entered)).toEqual([8, 5, 3, 1 + 1, 1]);
    const { fresh_until: _, backfill: __, ...saved } = await report();
    expect(preview).toEqual(saved);
  });
});

describe('funnel management', () => {
  it('lists, reads, replaces and deletes funnels', async () => {
    const list = await (await collector.admin(`/api/sites/${SITE}/funnels`)).json();
    expect(list).toMatchObject([{ id: 'deal', name: 'Deal purchase', window: '2h' }]);
    const two = { name: 'Two steps', window: '30m', steps: funnel.steps.slice(0, 2) };
    expect((await collector.admin(`/api/sites/${SITE}/funnels/two`, { method: 'PUT', body: two })).status).toBe(201);
    expect((await collector.admin(`/api/sites/${SITE}/funnels/two`, { method: 'PUT', body: two })).status).toBe(200);
    const r = (await (await collector.admin(`/api/sites/${SITE}/funnels/two/report?from=${dayOfJourneys}&to=${today}`)).json()) as any;
    expect(r.steps.map((s: any) => s.entered)).toEqual([8, 5]);
    expect((await collector.admin(`/api/sites/${SITE}/funnels/two`, { method: 'DELETE' })).status).toBe(204);
    expect((await collector.admin(`/api/sites/${SITE}/funnels/two`, { method: 'DELETE' })).status).toBe(404);
    expect((await collector.admin(`/api/sites/${SITE}/funnels/two/report?from=${today}&to=${today}`)).status).toBe(404);
  });

  it('refuses bad definitions and queries with a 4xx naming the field', async () => {
    const bad: [unknown, string][] = [
      [{ ...funnel, steps: funnel.steps.slice(0, 1) }, 'steps'],
      [{ ...funnel, window: '91d' }, 'window'],
      [{ ...funnel, steps: [{ name: 'x', event: 'pageview', path: 'no-slash' }, funnel.steps[1]] }, 'steps[0].path'],
      ['not an object', '(body)'],
    ];
    for (const [body, field] of bad) {
      const reply = await collector.admin(`/api/sites/${SITE}/funnels/bad`, { method: 'PUT', body });
      expect(reply.status).toBe(400);
      expect(((await reply.json()) as any).field).toBe(field);
    }
    expect((await collector.admin(`/api/sites/${SITE}/funnels/bad%20id`, { method: 'PUT', body: funnel })).status).toBe(400);
    expect((await collector.admin(`/api/sites/nope.example/funnels/deal/report?from=${today}&to=${today}`)).status).toBe(404);
    expect((await collector.admin(`/api/sites/${SITE}/funnels/deal/report?from=${today}&to=${today}&breakdown=planet`)).status).toBe(400);
    expect((await collector.admin(`/api/sites/${SITE}/funnels/deal/report?from=${today}`)).status).toBe(400);
  });
});

describe('after a restart', () => {
  it('rebuilds the same report from what it persisted and the events of open windows', async () => {
    const { fresh_until: before, ...counts } = await report();
    const dir = collector.dir;
    await collector.app.close();
    collector = await startCollector({}, dir);
    const { fresh_until: after, ...again } = await report();
    expect(again).toEqual(counts);
    expect(after).toBeGreaterThan(before);
  });
});
