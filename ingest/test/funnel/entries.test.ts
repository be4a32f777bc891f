import { describe, expect, it } from 'vitest';
import { matchEntries } from '../../src/funnel/entries.js';
import { matchJourney } from '../../src/funnel/journey.js';
import { DAY, HOUR, MIN, T0, event, page, shop } from './helpers.js';

const paid = { paid: 'true' };

describe('matchEntries', () => {
  it('gives nothing to a unit that never did step 1', () => {
    expect(matchEntries([event(T0, 'signup'), page(T0 + MIN, '/deals/a')], shop)).toEqual([]);
  });

  it('counts step-1 events inside one window as one entry, its furthest attempt', () => {
    const events = [
      page(T0, '/'),
      page(T0 + 30 * MIN, '/'),
      event(T0 + 70 * MIN, 'signup'), // 70 min after the first landing: only the second attempt reaches it
      page(T0 + 80 * MIN, '/deals/spa'),
    ];
    const entries = matchEntries(events, shop);
    expect(entries).toHaveLength(1);
    expect(entries[0].start).toBe(T0 + 30 * MIN);
    expect(entries[0].reached).toBe(3);
    expect(entries[0].openUntil).toBe(T0 + 90 * MIN);
  });

  it('opens a new entry at the first step-1 event after the window closed', () => {
    const events = [
      page(T0, '/'), event(T0 + 5 * MIN, 'signup'),
      page(T0 + 2 * HOUR, '/', { session: 's2' }), event(T0 + 2 * HOUR + MIN, 'signup', { session: 's2' }),
      page(T0 + 2 * HOUR + 2 * MIN, '/deals/a', { session: 's2' }), event(T0 + 2 * HOUR + 3 * MIN, 'purchase', { props: paid, session: 's2' }),
      page(T0 + DAY, '/', { session: 's3' }),
    ];
    const entries = matchEntries(events, shop);
    expect(entries.map((e) => [e.start, e.reached])).toEqual([[T0, 2], [T0 + 2 * HOUR, 4], [T0 + DAY, 1]]);
  });

  it('agrees with matchJourney when there is only one entry', () => {
    const events = [page(T0, '/'), event(T0 + MIN, 'signup'), page(T0 + 2 * MIN, '/about'), page(T0 + 3 * MIN, '/deals/x')];
    expect(matchEntries(events, shop)).toEqual([{ ...matchJourney(events, shop), opensAt: T0 }]);
  });

  it('starts the chain after the window of the last entry already counted', () => {
    const events = [page(T0, '/'), page(T0 + 30 * MIN, '/'), page(T0 + 2 * HOUR, '/')];
    expect(matchEntries(events, shop).map((e) => e.opensAt)).toEqual([T0, T0 + 2 * HOUR]);
    // An entry that opened before these events and closes at T0 + 40 min holds the second landing back.
    expect(matchEntries(events.slice(1), shop, { after: T0 + 40 * MIN }).map((e) => e.opensAt)).toEqual([T0 + 2 * HOUR]);
    expect(matchEntries(events.slice(1), shop, { after: T0 + 20 * MIN }).map((e) => e.opensAt)).toEqual([T0 + 30 * MIN, T0 + 2 * HOUR]);
  });

  it('sees the exit page of the session an entry ends in, even past the window', () => {
    const events = [page(T0, '/'), page(T0 + 61 * MIN, '/about')];
    const [entry] = matchEntries(events, shop);
    expect(entry.reached).toBe(1);
    expect(entry.exitPath).toBe('/about');
  });
});
