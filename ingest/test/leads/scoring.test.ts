// Scoring rules: validation, matching and decay, and the tracker scoring hand-made journeys.
import { describe, expect, it } from 'vitest';
import { addPoints, decayTo, parseScoringRules, pointsFor, type ParsedScoringRules, type ScoringRules } from '../../src/leads/scoring.js';
import { LeadTracker } from '../../src/leads/tracker.js';
import { DAY, event, HOUR, MIN, SITE, T0 } from './helpers.js';

function rules(input: ScoringRules): ParsedScoringRules {
  const parsed = parseScoringRules(input);
  if (!parsed.ok) throw new Error(`${parsed.field}: ${parsed.error}`);
  return parsed.rules;
}

const SEEDS: ScoringRules = {
  threshold: 30,
  rules: [
    { points: 10, event: 'deal_view' },
    { points: 15, event: 'add_to_cart', props: { deal: 'chicago-spa' } },
    { points: 5, event: 'pageview', path: '/deals/*' },
    { points: 20, channel: 'Paid Search' },
    { points: 8, keywords: ['spa day', 'massage'] },
    { points: -50, path: '/careers*' },
  ],
};

describe('parseScoringRules', () => {
  it('accepts the seeds\' rules and keeps them as given', () => {
    const parsed = parseScoringRules({ ...SEEDS, decay: { halfLifeDays: 7 } });
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.rules.definition).toEqual({ ...SEEDS, decay: { halfLifeDays: 7 } });
    expect(parsed.rules.halfLifeMs).toBe(7 * DAY);
  });

  it.each([
    [null, '(body)'],
    [{ rules: [] }, 'threshold'],
    [{ threshold: 0, rules: [] }, 'threshold'],
    [{ threshold: '30', rules: [] }, 'threshold'],
    [{ threshold: 30, rules: {} }, 'rules'],
    [{ threshold: 30, rules: [], extra: 1 }, 'extra'],
    [{ threshold: 30, rules: [], decay: { halfLifeDays: 0 } }, 'decay.halfLifeDays'],
    [{ threshold: 30, rules: [], decay: { days: 3 } }, 'decay'],
    [{ threshold: 30, rules: [{ event: 'signup' }] }, 'rules[0].points'],
    [{ threshold: 30, rules: [{ points: Infinity, event: 'signup' }] }, 'rules[0].points'],
    [{ threshold: 30, rules: [{ points: 5 }] }, 'rules[0]'],
    [{ threshold: 30, rules: [{ points: 5, event: 'sign up!' }] }, 'rules[0].event'],
    [{ threshold: 30, rules: [{ points: 5, path: 'deals/*' }] }, 'rules[0].path'],
    [{ threshold: 30, rules: [{ points: 5, path: '/*a*a*a*a*a*a*a*a*a' }] }, 'rules[0].path'],
    [{ threshold: 30, rules: [{ points: 5, event: 'x', props: { a: {} } }] }, 'rules[0].props'],
    [{ threshold: 30, rules: [{ points: 5, channel: '' }] }, 'rules[0].channel'],
    [{ threshold: 30, rules: [{ points: 5, keywords: [] }] }, 'rules[0].keywords'],
    [{ threshold: 30, rules: [{ points: 5, keywords: ['spa', '  '] }] }, 'rules[0].keywords[1]'],
    [{ threshold: 30, rules: [{ points: 5, event: 'x', weight: 2 }] }, 'rules[0].weight'],
  ])('refuses %j naming field %s', (input, field) => {
    const parsed = parseScoringRules(input);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.field).toBe(field);
  });
});

describe('pointsFor', () => {
  const seeds = rules(SEEDS);
  const score = (e: ReturnType<typeof event>, awarded = new Set<number>()) => pointsFor(seeds, e, awarded);

  it('scores events by name, property and path', () => {
    expect(score(event(T0, 'deal_view'))).toBe(10);
    expect(score(event(T0, 'add_to_cart', { props: { deal: 'chicago-spa', price: 49 } }))).toBe(15);
    expect(score(event(T0, 'add_to_cart', { props: { deal: 'other' } }))).toBe(0);
    expect(score(event(T0, 'pageview', { path: '/deals/chicago-spa.html' }))).toBe(5);
    expect(score(event(T0, 'pageview', { path: '/careers/sales' }))).toBe(-50);
  });

  it('scores the channel once per visit', () => {
    const awarded = new Set<number>();
    expect(score(event(T0, 'pageview', { channel: 'Paid Search' }), awarded)).toBe(20);
    expect(score(event(T0 + MIN, 'pageview', { channel: 'Paid Search' }), awarded)).toBe(0);
    expect(score(event(T0, 'pageview', { channel: 'paid search' }))).toBe(20);
  });

  it('matches keywords as whole words, in the term and the campaign, ignoring case', () => {
    expect(score(event(T0, 'pageview', { term: 'chicago SPA DAY deals' }))).toBe(8);
    expect(score(event(T0, 'pageview', { term: 'spa-day' }))).toBe(8);
    // Campaign names separate words with _ and -.
    expect(score(event(T0, 'pageview', { campaign: 'massage_week' }))).toBe(8);
    expect(score(event(T0, 'pageview', { campaign: 'deep massage' }))).toBe(8);
    expect(score(event(T0, 'pageview', { term: 'spa days' }))).toBe(0);
    expect(score(event(T0, 'pageview', { term: 'massages' }))).toBe(0);
  });

  it('adds every matching rule', () => {
    const e = event(T0, 'pageview', { path: '/deals/x', channel: 'Paid Search', term: 'massage' });
    expect(score(e)).toBe(5 + 20 + 8);
  });
});

describe('decay', () => {
  it('halves points every half-life', () => {
    const week = 7 * DAY;
    expect(decayTo({ value: 40, at: T0 }, T0 + week, week).value).toBeCloseTo(20);
    expect(decayTo({ value: 40, at: T0 }, T0 + 2 * week, week).value).toBeCloseTo(10);
    expect(decayTo({ value: 40, at: T0 }, T0 + week, null).value).toBe(40);
  });

  it('adds late points decayed to the score\'s time', () => {
    const day = DAY;
    const score = addPoints({ value: 10, at: T0 + day }, 8, T0, day);
    expect(score.at).toBe(T0 + day);
    expect(score.value).toBeCloseTo(14);
  });
});

describe('LeadTracker scoring', () => {
  function tracker(input: ScoringRules) {
    const t = new LeadTracker<number>();
    t.setRules(SITE, rules(input));
    let ref = 0;
    const feed = (...events: ReturnType<typeof event>[]) => t.observe(events.map((e) => ({ event: e, ref: ref++ })));
    return { t, feed };
  }

  it('becomes an MQL at the event whose points reach the threshold, not before', () => {
    const { t, feed } = tracker({ threshold: 25, rules: [{ points: 10, event: 'deal_view' }, { points: 15, event: 'add_to_cart' }] });
    feed(event(T0, 'signup', { lead: 'L1' }));
    expect(t.get(SITE, 'L1')?.stage).toBe('lead');
    const first = feed(event(T0 + MIN, 'deal_view'));
    expect(first.changes).toEqual([]);
    expect(t.get(SITE, 'L1')?.score.value).toBe(10);
    const second = feed(event(T0 + 2 * MIN, 'pageview'), event(T0 + 3 * MIN, 'add_to_cart'), event(T0 + 4 * MIN, 'deal_view'));
    expect(second.changes.map((c) => [c.change.stage, c.change.at, c.change.by])).toEqual([['mql', T0 + 3 * MIN, 'score']]);
    // The change carries the lead as it was then (its webhook says 25), not after the batch's last event.
    expect(second.changes[0].record.score.value).toBe(25);
    const record = t.get(SITE, 'L1')!;
    expect(record.stage).toBe('mql');
    expect(record.stageAt).toBe(T0 + 3 * MIN);
    expect(record.score.value).toBe(35);
    // Scoring goes on after the MQL, without a second change.
    expect(feed(event(T0 + 5 * MIN, 'add_to_cart')).changes).toEqual([]);
  });

  it('with decay, points earned too far apart never reach the threshold', () => {
    const { t, feed } = tracker({ threshold: 20, rules: [{ points: 10, event: 'deal_view' }], decay: { halfLifeDays: 1 } });
    feed(event(T0, 'signup', { lead: 'L1' }), event(T0 + HOUR, 'deal_view'));
    feed(event(T0 + 3 * DAY, 'deal_view'));
    const record = t.get(SITE, 'L1')!;
    expect(record.stage).toBe('lead');
    expect(record.score.value).toBeCloseTo(10 + 10 * 2 ** (-(3 * DAY - HOUR) / DAY));
    // Two views close together do.
    const changes = feed(event(T0 + 3 * DAY + MIN, 'deal_view')).changes;
    expect(changes.map((c) => c.change.stage)).toEqual(['mql']);
  });

  it('a journey that starts anonymous keeps its entry source and earlier points once named at signup', () => {
    const { t, feed } = tracker({ threshold: 30, rules: [{ points: 10, event: 'deal_view' }, { points: 20, channel: 'Paid Search' }] });
    const paid = { channel: 'Paid Search', source: 'google', medium: 'cpc', campaign: 'spa-week', term: 'chicago spa', landing: '/deals/spa' };
    // Anonymous: lands from a Google ad, views a deal.
    feed(event(T0, 'pageview', { ...paid, path: '/deals/spa' }), event(T0 + MIN, 'deal_view', paid));
    expect(t.get(SITE, 'L1')).toBeNull();
    // Another visitor's anonymous visit does not join.
    feed(event(T0, 'deal_view', { visitor: 'v2', session: 's2' }));
    const update = feed(event(T0 + 5 * MIN, 'signup', { ...paid, lead: 'L1' }));
    const record = t.get(SITE, 'L1')!;
    expect(record.entry).toEqual(paid);
    expect(record.firstSeen).toBe(T0);
    expect(record.createdAt).toBe(T0 + 5 * MIN);
    expect(record.score.value).toBe(30);
    // Reached with points earned before it was named: an MQL the moment it is a lead.
    expect(update.changes.map((c) => [c.change.stage, c.change.at])).toEqual([['mql', T0 + 5 * MIN]]);
    expect(update.events.map((e) => e.ref).sort()).toEqual([0, 1, 3]);
    expect(update.links).toEqual([{ site: SITE, visitor: 'v1', lead: 'L1', at: T0 + 5 * MIN, ref: 3 }]);
  });

  it('later events of the visitor, and later visits naming the lead, belong to the lead; first touch stays', () => {
    const { t, feed } = tracker({ threshold: 100, rules: [{ points: 10, event: 'deal_view' }] });
    feed(event(T0, 'signup', { lead: 'L1', channel: 'Organic Search', source: 'google' }));
    feed(event(T0 + DAY, 'deal_view', { session: 's2' })); // same visitor, no lead sent
    feed(event(T0 + 2 * DAY, 'pageview', { visitor: 'phone', session: 's3' })); // anonymous, another device
    feed(event(T0 + 2 * DAY + MIN, 'deal_view', { visitor: 'phone', session: 's3', lead: 'L1', channel: 'Email' }));
    const record = t.get(SITE, 'L1')!;
    expect(record.score.value).toBe(20);
    expect(record.entry.channel).toBe('Organic Search');
    expect(record.lastSeen).toBe(T0 + 2 * DAY + MIN);
    expect(t.leadsOf(SITE)).toHaveLength(1);
  });

  it('scores again from all events when the rules change (rescore), keeping stages reached', () => {
    const { t, feed } = tracker({ threshold: 100, rules: [{ points: 10, event: 'deal_view' }] });
    const events = [event(T0, 'signup', { lead: 'L1' }), event(T0 + MIN, 'deal_view'), event(T0 + 2 * MIN, 'deal_view')];
    feed(...events);
    expect(t.get(SITE, 'L1')?.stage).toBe('lead');
    t.setRules(SITE, rules({ threshold: 15, rules: [{ points: 10, event: 'deal_view' }] }));
    const change = t.rescore(SITE, 'L1', events);
    expect(change?.change).toMatchObject({ stage: 'mql', at: T0 + 2 * MIN });
    t.setRules(SITE, rules({ threshold: 15, rules: [] }));
    expect(t.rescore(SITE, 'L1', events)).toBeNull();
    expect(t.get(SITE, 'L1')).toMatchObject({ stage: 'mql', score: { value: 0 } });
  });
});
