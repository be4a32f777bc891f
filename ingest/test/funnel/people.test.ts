// People rows and correlation (funnel/people.ts): what a row records of an entry, which rows a
// status selects, the cursor, and the factor ranking against the two-proportion test.
import { describe, expect, it } from 'vitest';
import { matchEntries } from '../../src/funnel/entries.js';
import { defaultMatcher, type FunnelEvent } from '../../src/funnel/journey.js';
import {
  comparePeople, correlationQuestion, countFactors, decodeCursor, emptyFactorCounts, encodeCursor, matchesPeople,
  personRows, rankFactors, type PersonRow,
} from '../../src/funnel/people.js';
import { twoProportionPValue } from '../../src/funnel/variants.js';
import { event, MIN, page, shop, T0 } from './helpers.js';

const notAStep = () => false;
const visited = (events: ReturnType<typeof event>[]) => events.map((e) => ({ ...e, visitor: 'v1' }));

describe('personRows', () => {
  it('records the entry, and each factor with the steps done when it first happened', () => {
    const events = visited([
      page(T0, '/', { source: 'newsletter', channel: 'Email', campaign: 'spring' }),
      page(T0 + MIN, '/pricing'),
      event(T0 + 2 * MIN, 'signup'),
      event(T0 + 3 * MIN, 'video_play'),
      page(T0 + 4 * MIN, '/deals/spa'),
      page(T0 + 5 * MIN, '/pricing'),
      page(T0 + 6 * MIN, '/faq'),
    ]);
    const [row] = personRows('visitor:v1', matchEntries(events, shop), events, notAStep);
    expect(row).toMatchObject({
      unit: 'visitor:v1', visitor: 'v1', lead: null, start: T0, opensAt: T0, reached: 3, lastSeen: T0 + 6 * MIN,
      channel: 'Email', source: 'newsletter', campaign: 'spring', exitPath: '/pricing',
    });
    const steps = Object.fromEntries(row.factors.map((f, i) => [f, row.factorSteps[i]]));
    expect(steps).toEqual({
      'channel\tEmail': 0, 'source\tnewsletter': 0, 'campaign\tspring': 0, 'landing\t/': 0, 'device\tdesktop': 0, 'browser\tFirefox': 0,
      // The step's own event counts as after it; a page seen again keeps its first time.
      'page\t/': 1, 'page\t/pricing': 1, 'event\tsignup': 2, 'event\tvideo_play': 2, 'page\t/deals/spa': 3, 'page\t/faq': 3,
    });
  });

  it('leaves out the events that are the funnel’s own steps', () => {
    const events = visited([page(T0, '/'), page(T0 + MIN, '/pricing'), event(T0 + 2 * MIN, 'signup'), event(T0 + 3 * MIN, 'chat')]);
    const matches = defaultMatcher(shop);
    const isStep = (e: FunnelEvent) => shop.steps.some((_, k) => matches(k, e));
    const [row] = personRows('visitor:v1', matchEntries(events, shop), events, isStep);
    expect(row.factors.filter((f) => f.startsWith('page') || f.startsWith('event'))).toEqual(['page\t/pricing', 'event\tchat']);
  });

  it('names the lead of a lead unit, and leaves excluded entries out', () => {
    const events = visited([page(T0, '/'), event(T0 + MIN, 'signup')]);
    expect(personRows('lead:L1', matchEntries(events, shop), events, notAStep)[0]).toMatchObject({ unit: 'lead:L1', lead: 'L1', visitor: 'v1' });
    const entries = matchEntries(events, shop).map((entry) => ({ ...entry, excluded: true }));
    expect(personRows('visitor:v1', entries, events, notAStep)).toEqual([]);
  });
});

const row = (reached: number, openUntil: number, factors: string[] = [], factorSteps: number[] = factors.map(() => 0)): PersonRow => ({
  unit: `visitor:${Math.random()}`, visitor: 'v', lead: null, start: T0, opensAt: T0, lastSeen: T0, openUntil, reached,
  channel: 'Direct', source: null, campaign: null, exitPath: null, factors, factorSteps,
});

describe('matchesPeople', () => {
  const now = T0 + 10 * MIN;
  const open = row(2, now);
  const closed = row(2, now - 1);
  const converted = row(4, now - 1);
  const filter = (step: number, status: 'reached' | 'dropped' | 'in_flight' | 'converted') => ({ step, status, stepCount: 4, now });
  it('splits those stopped at a step by whether their window is still open (its last millisecond included)', () => {
    expect([open, closed, converted].map((r) => matchesPeople(r, filter(2, 'in_flight')))).toEqual([true, false, false]);
    expect([open, closed, converted].map((r) => matchesPeople(r, filter(2, 'dropped')))).toEqual([false, true, false]);
    expect([open, closed, converted].map((r) => matchesPeople(r, filter(2, 'reached')))).toEqual([true, true, true]);
    expect([open, closed, converted].map((r) => matchesPeople(r, filter(3, 'reached')))).toEqual([false, false, true]);
    expect([open, closed, converted].map((r) => matchesPeople(r, filter(1, 'converted')))).toEqual([false, false, true]);
    // No one stops at the last step.
    expect(matchesPeople(converted, filter(4, 'dropped'))).toBe(false);
  });
});

describe('cursors', () => {
  it('round-trip, and refuse what this API did not give', () => {
    const at = { start: T0, unit: 'lead:x', opensAt: T0 - 5 };
    expect(decodeCursor(encodeCursor(at))).toEqual(at);
    expect(comparePeople(at, { ...at, unit: 'lead:y' })).toBeLessThan(0);
    for (const bad of ['', 'not-a-cursor', Buffer.from('[1,2]').toString('base64url'), Buffer.from('["a","b",3]').toString('base64url')]) {
      expect(decodeCursor(bad)).toBeNull();
    }
  });
});

describe('correlation', () => {
  it('counts only what happened before the goal, and leaves in-flight entries out', () => {
    const now = T0;
    const rows = [
      row(3, now - 1, ['page\t/a', 'page\t/b'], [1, 3]),
      row(2, now - 1, ['page\t/a'], [1]),
      row(2, now + 1, ['page\t/a'], [1]),
      row(1, now - 1, ['page\t/a'], [0]),
    ];
    const counts = countFactors(emptyFactorCounts(), rows, correlationQuestion(2, 4, now));
    expect(counts).toEqual({ wentOn: 1, stopped: 1, factors: new Map([['page\t/a', { wentOn: 1, stopped: 1 }]]) });
    expect(countFactors(emptyFactorCounts(), rows, correlationQuestion(undefined, 3, now)).wentOn).toBe(1);
  });

  it('ranks factors by the two-proportion test, with the odds ratio and the ratio of rates', () => {
    const counts = emptyFactorCounts();
    counts.wentOn = 36;
    counts.stopped = 64;
    counts.factors.set('source\tnewsletter', { wentOn: 30, stopped: 10 });
    counts.factors.set('device\tmobile', { wentOn: 18, stopped: 32 });
    counts.factors.set('page\t/rare', { wentOn: 2, stopped: 2 });
    const factors = rankFactors(counts);
    expect(factors.map((f) => f.value)).toEqual(['newsletter', 'mobile']);
    expect(factors[0]).toMatchObject({ kind: 'source', went_on: 30, stopped: 10, rate_ratio: 7.5 });
    expect(factors[0].p_value).toBe(twoProportionPValue(30, 40, 6, 60));
    expect(factors[0].odds_ratio).toBeCloseTo((30.5 * 54.5) / (10.5 * 6.5), 3);
    // The same share with and without: nothing to tell.
    expect(factors[1]).toMatchObject({ rate_ratio: 1, p_value: 1 });
  });
});
