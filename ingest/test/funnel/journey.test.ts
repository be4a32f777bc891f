import { describe, expect, it } from 'vitest';
import { groupByUnit, matchJourney, matchJourneys, unitsOf, type FunnelEvent } from '../../src/funnel/index.js';
import { DAY, event, funnel, HOUR, MIN, page, shop, T0 } from './helpers.js';

const reachedOf = (events: FunnelEvent[], f = shop) => matchJourney(events, f)?.reached ?? 0;
const paid = { props: { paid: 'true' } };

describe('matchJourney: how far a unit gets', () => {
  it('follows a straight conversion', () => {
    const journey = matchJourney(
      [page(T0, '/'), event(T0 + MIN, 'signup'), page(T0 + 2 * MIN, '/deals/spa'), event(T0 + 3 * MIN, 'purchase', paid)],
      shop,
    );
    expect(journey).toMatchObject({
      start: T0,
      windowEndsAt: T0 + HOUR,
      openUntil: T0 + HOUR,
      reached: 4,
      stepTimes: [T0, T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN],
      exitPath: null,
    });
  });

  it('is null for a unit that never did step 1', () => {
    expect(matchJourney([event(T0, 'signup'), page(T0 + MIN, '/deals/x')], shop)).toBeNull();
    expect(matchJourney([], shop)).toBeNull();
  });

  it('does not count a step done before the one before it', () => {
    // signup before the home page: the home page starts the journey, the early signup is no step 2
    expect(reachedOf([event(T0, 'signup'), page(T0 + MIN, '/'), page(T0 + 2 * MIN, '/deals/x')])).toBe(1);
    // deal before signup: 2, then the deal must come again
    expect(reachedOf([page(T0, '/'), page(T0 + MIN, '/deals/x'), event(T0 + 2 * MIN, 'signup')])).toBe(2);
    expect(
      reachedOf([page(T0, '/'), page(T0 + MIN, '/deals/x'), event(T0 + 2 * MIN, 'signup'), page(T0 + 3 * MIN, '/deals/y')]),
    ).toBe(3);
  });

  it('sorts events that arrive out of ts order', () => {
    const journey = matchJourney([event(T0 + 2 * MIN, 'signup'), page(T0 + MIN, '/'), page(T0 + 3 * MIN, '/deals/x')], shop);
    expect(journey?.reached).toBe(3);
    expect(journey?.stepTimes).toEqual([T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN]);
  });

  it('counts repeated steps once, from the first step 1 of the attempt', () => {
    const journey = matchJourney(
      [page(T0, '/'), page(T0 + MIN, '/'), event(T0 + 2 * MIN, 'signup'), event(T0 + 3 * MIN, 'signup'), page(T0 + 4 * MIN, '/deals/x')],
      shop,
    );
    expect(journey?.reached).toBe(3);
    expect(journey?.stepTimes).toEqual([T0, T0 + 2 * MIN, T0 + 4 * MIN]);
  });

  it('needs one event per step, even when an event would match two steps', () => {
    const twice = funnel('1h', [
      { name: 'Any page', event: 'pageview' },
      { name: 'Another page', event: 'pageview' },
    ]);
    expect(reachedOf([page(T0, '/')], twice)).toBe(1);
    expect(reachedOf([page(T0, '/'), page(T0, '/a')], twice)).toBe(2);
  });

  it('keeps the order of events with the same ts', () => {
    expect(reachedOf([page(T0, '/'), event(T0, 'signup')])).toBe(2);
    expect(reachedOf([event(T0, 'signup'), page(T0, '/')])).toBe(1);
  });

  it('stops at the window: the last step is allowed exactly at its end', () => {
    expect(reachedOf([page(T0, '/'), event(T0 + HOUR, 'signup')])).toBe(2);
    expect(reachedOf([page(T0, '/'), event(T0 + HOUR + 1, 'signup')])).toBe(1);
    // every step counts from step 1, not from the step before
    expect(reachedOf([page(T0, '/'), event(T0 + 50 * MIN, 'signup'), page(T0 + 61 * MIN, '/deals/x')])).toBe(2);
  });

  it('lets a later attempt convert after the first one expired', () => {
    const journey = matchJourney(
      [page(T0, '/'), page(T0 + 2 * HOUR, '/'), event(T0 + 2 * HOUR + MIN, 'signup')],
      shop,
    );
    expect(journey?.reached).toBe(2);
    expect(journey?.start).toBe(T0 + 2 * HOUR);
    expect(journey?.windowEndsAt).toBe(T0 + 3 * HOUR);
    expect(journey?.openUntil).toBe(T0 + 3 * HOUR);
  });

  it('takes the attempt that gets furthest, the earliest of equals', () => {
    // attempt 1 reaches 2 (signup), attempt 2 reaches 3; attempt 3 also 3 but later
    const events = [
      page(T0, '/', { channel: 'Direct' }),
      event(T0 + MIN, 'signup'),
      page(T0 + 2 * HOUR, '/', { channel: 'Organic Search', source: 'google', session: 's2' }),
      event(T0 + 2 * HOUR + MIN, 'signup', { session: 's2' }),
      page(T0 + 2 * HOUR + 2 * MIN, '/deals/x', { session: 's2' }),
      page(T0 + 5 * HOUR, '/', { session: 's3' }),
      event(T0 + 5 * HOUR + MIN, 'signup', { session: 's3' }),
      page(T0 + 5 * HOUR + 2 * MIN, '/deals/x', { session: 's3' }),
    ];
    const journey = matchJourney(events, shop);
    expect(journey?.reached).toBe(3);
    expect(journey?.start).toBe(T0 + 2 * HOUR);
    expect(journey?.attribution).toMatchObject({ channel: 'Organic Search', source: 'google' });
  });

  it('rejects a purchase whose property does not match (boolean true matches "true")', () => {
    const base = [page(T0, '/'), event(T0 + MIN, 'signup'), page(T0 + 2 * MIN, '/deals/x')];
    expect(reachedOf([...base, event(T0 + 3 * MIN, 'purchase', { props: { paid: true } })])).toBe(4);
    expect(reachedOf([...base, event(T0 + 3 * MIN, 'purchase', { props: { paid: 'true' } })])).toBe(4);
    expect(reachedOf([...base, event(T0 + 3 * MIN, 'purchase', { props: { paid: false } })])).toBe(3);
    expect(reachedOf([...base, event(T0 + 3 * MIN, 'purchase')])).toBe(3);
  });

  it('matches pages by pattern', () => {
    expect(reachedOf([page(T0, '/about'), event(T0 + MIN, 'signup')])).toBe(0);
    expect(reachedOf([page(T0, '/'), event(T0 + MIN, 'signup'), page(T0 + 2 * MIN, '/deals')])).toBe(2);
    expect(reachedOf([page(T0, '/'), event(T0 + MIN, 'signup'), page(T0 + 2 * MIN, '/deals/a/b')])).toBe(3);
  });

  it('takes step 1 only inside the entry range, later steps anywhere in the window', () => {
    const events = [page(T0, '/'), page(T0 + DAY - MIN, '/'), event(T0 + DAY + MIN, 'signup')];
    expect(matchJourney(events, shop, { from: T0 + MIN, to: T0 + DAY })?.start).toBe(T0 + DAY - MIN);
    expect(matchJourney(events, shop, { from: T0 + MIN, to: T0 + DAY })?.reached).toBe(2);
    expect(matchJourney(events, shop, { from: T0, to: T0 + MIN })?.reached).toBe(1);
    expect(matchJourney(events, shop, { from: T0 + DAY, to: T0 + 2 * DAY })).toBeNull();
  });
});

describe('matchJourney: what a journey records', () => {
  it('records the attribution of the event that entered step 1', () => {
    const journey = matchJourney(
      [
        page(T0 - MIN, '/pricing', { channel: 'Paid Search', source: 'google', landing: '/pricing', session: 's0' }),
        page(T0, '/', {
          channel: 'Email',
          source: 'newsletter',
          medium: 'email',
          campaign: 'spring',
          device: 'mobile',
          browser: 'Safari',
          variant: 'B',
          landing: '/',
        }),
        event(T0 + MIN, 'signup', { channel: 'Direct' }),
      ],
      shop,
    );
    expect(journey?.attribution).toEqual({
      channel: 'Email',
      source: 'newsletter',
      medium: 'email',
      campaign: 'spring',
      device: 'mobile',
      browser: 'Safari',
      variant: 'B',
      landing: '/',
    });
  });

  it('records the next page of the session after the last step reached', () => {
    const journey = matchJourney(
      [
        page(T0, '/'),
        event(T0 + MIN, 'signup'),
        event(T0 + 2 * MIN, 'engagement', { path: '/', engaged_ms: 5000 }),
        event(T0 + 2 * MIN + 1, 'newsletter', { path: '/footer' }),
        page(T0 + 3 * MIN, '/about'),
        page(T0 + 4 * MIN, '/contact'),
      ],
      shop,
    );
    expect(journey?.reached).toBe(2);
    expect(journey?.exitPath).toBe('/about');
  });

  it('records null when the visitor left the site (no later pageview in that session)', () => {
    const journey = matchJourney(
      [page(T0, '/'), event(T0 + MIN, 'signup'), page(T0 + 10 * MIN, '/about', { session: 's2' })],
      shop,
    );
    expect(journey?.exitPath).toBeNull();
  });

  it('sums engaged time and keeps the deepest scroll per stage', () => {
    const journey = matchJourney(
      [
        page(T0, '/'),
        event(T0 + 10_000, 'engagement', { engaged_ms: 4000, scroll: 30 }),
        event(T0 + 20_000, 'signup'),
        event(T0 + 30_000, 'engagement', { engaged_ms: 6000, scroll: 80 }),
        page(T0 + 40_000, '/pricing', { session: 's1' }),
        event(T0 + 50_000, 'engagement', { path: '/pricing', engaged_ms: 1000, scroll: 20 }),
        page(T0 + 60_000, '/deals/x'),
        event(T0 + 70_000, 'engagement', { path: '/deals/x', engaged_ms: 9000, scroll: 100 }),
        event(T0 + 80_000, 'engagement', { path: '/deals/x', engaged_ms: 500, session: 's9' }),
      ],
      shop,
    );
    expect(journey?.reached).toBe(3);
    expect(journey?.stages).toEqual([
      { engagedMs: 4000, scroll: 30 },
      { engagedMs: 7000, scroll: 80 },
      { engagedMs: 9000, scroll: 100 },
    ]);
  });

  it('reports no engagement for a stage without any', () => {
    const journey = matchJourney([page(T0, '/'), event(T0 + MIN, 'signup')], shop);
    expect(journey?.stages).toEqual([
      { engagedMs: null, scroll: null },
      { engagedMs: null, scroll: null },
    ]);
  });

  it('records the revenue of the converting event', () => {
    const base = [page(T0, '/'), event(T0 + MIN, 'signup'), page(T0 + 2 * MIN, '/deals/x')];
    const journey = matchJourney(
      [
        event(T0 + 90 * 1000, 'purchase', { props: { paid: 'false' }, revenue_amount: 99, revenue_currency: 'USD' }),
        ...base,
        event(T0 + 3 * MIN, 'purchase', { props: { paid: 'true' }, revenue_amount: 25.5, revenue_currency: 'EUR' }),
      ],
      shop,
    );
    expect(journey?.revenue).toEqual({ amount: 25.5, currency: 'EUR' });
    expect(matchJourney([...base, event(T0 + 3 * MIN, 'purchase', paid)], shop)?.revenue).toBeNull();
  });
});

describe('units', () => {
  const raw = (ts: number, visitor: string, lead: string | null = null) => ({ ts, visitor, lead });

  it('counts a visitor under its lead once any of its events names one', () => {
    const units = unitsOf([raw(1, 'v1'), raw(2, 'v1', 'L'), raw(3, 'v2', 'L'), raw(4, 'v3'), raw(5, 'v4', 'M'), raw(0, 'v4', 'N')]);
    expect(Object.fromEntries(units)).toEqual({ v1: 'lead:L', v2: 'lead:L', v3: 'visitor:v3', v4: 'lead:N' });
  });

  it('groups events by unit in ts order', () => {
    const groups = groupByUnit([raw(3, 'v1'), raw(1, 'v2', 'L'), raw(2, 'v1', 'L'), raw(0, 'v3')]);
    expect([...groups.entries()].map(([unit, events]) => [unit, events.map((e) => e.ts)])).toEqual([
      ['lead:L', [1, 2, 3]],
      ['visitor:v3', [0]],
    ]);
  });

  it('joins a journey across devices through the lead', () => {
    const journeys = matchJourneys(
      [
        { ...page(T0, '/'), visitor: 'phone', lead: null },
        { ...event(T0 + MIN, 'signup'), visitor: 'phone', lead: 'crm-4711' },
        { ...page(T0 + 2 * MIN, '/deals/x', { session: 'laptop-1' }), visitor: 'laptop', lead: 'crm-4711' },
        { ...page(T0, '/'), visitor: 'other', lead: null },
      ],
      shop,
    );
    expect(journeys.map((j) => j.reached).sort()).toEqual([1, 3]);
  });
});
