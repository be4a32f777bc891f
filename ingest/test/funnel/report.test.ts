import { describe, expect, it } from 'vitest';
import {
  addJourney,
  aggregateJourneys,
  buildFunnelReport,
  createFunnelAggregate,
  matchJourney,
  mergeAggregates,
  percentiles,
  removeJourney,
  reportFromAggregate,
  type Journey,
} from '../../src/funnel/index.js';
import { DAY, event, HOUR, MIN, page, shop, T0 } from './helpers.js';

/** A journey of `shop` (4 steps, 1h window) that reached `reached` steps, one minute apart unless `gaps` says otherwise. */
function journey(reached: number, fields: Partial<Journey> & { gaps?: number[] } = {}): Journey {
  const { gaps = [], ...rest } = fields;
  const start = rest.start ?? T0;
  const windowEndsAt = start + HOUR;
  const stepTimes = [start];
  for (let k = 1; k < reached; k++) stepTimes.push(stepTimes[k - 1] + (gaps[k - 1] ?? MIN));
  return {
    start,
    windowEndsAt,
    openUntil: windowEndsAt,
    reached,
    stepTimes,
    attribution: {
      channel: 'Direct',
      source: null,
      medium: null,
      campaign: null,
      device: 'desktop',
      browser: 'Firefox',
      variant: null,
      landing: '/',
    },
    exitPath: null,
    stages: Array.from({ length: reached }, () => ({ engagedMs: null, scroll: null })),
    revenue: null,
    excluded: false,
    ...rest,
  };
}

const attribution = (fields: Partial<Journey['attribution']>): Journey['attribution'] => ({
  ...journey(1).attribution,
  ...fields,
});

const LATER = T0 + 30 * DAY;

describe('buildFunnelReport: counts', () => {
  it('counts entered, exited, rates and conversion', () => {
    const journeys = [journey(1), journey(1), journey(2), journey(3), journey(4), journey(4)];
    const report = buildFunnelReport(journeys, shop, { now: LATER });
    expect(report.steps.map((s) => [s.name, s.entered, s.exited, s.in_flight, s.exit_rate])).toEqual([
      ['Home', 6, 2, 0, 2 / 6],
      ['Signup', 4, 1, 0, 1 / 4],
      ['Deal', 3, 1, 0, 1 / 3],
      ['Purchase', 2, 0, 0, 0],
    ]);
    expect(report.entered).toBe(6);
    expect(report.converted).toBe(2);
    expect(report.conversion_rate).toBe(2 / 6);
    expect(report.close_rate).toBe(2 / 3);
    expect(report.name).toBe('Test');
    expect(report.window).toBe('1h');
  });

  it('reports zeros, not NaN, for an empty funnel', () => {
    const report = buildFunnelReport([], shop, { now: LATER });
    expect(report.steps.map((s) => [s.entered, s.exited, s.exit_rate, s.time_to_next_ms, s.engaged_ms_median])).toEqual([
      [0, 0, 0, null, null],
      [0, 0, 0, null, null],
      [0, 0, 0, null, null],
      [0, 0, 0, null, null],
    ]);
    expect([report.converted, report.conversion_rate, report.close_rate]).toEqual([0, 0, 0]);
    expect(report.revenue).toEqual({});
    expect(report.sources).toEqual([]);
    expect(report.trend).toEqual([]);
  });

  it('counts as in flight the exits whose window is still open at `now`', () => {
    const journeys = [
      journey(1, { start: T0 }), // window ends T0+1h
      journey(1, { start: T0 + 30 * MIN }), // ends T0+1h30
      journey(2, { start: T0 + 45 * MIN }), // ends T0+1h45
      journey(4, { start: T0 + 50 * MIN }),
    ];
    const at = (now: number) => buildFunnelReport(journeys, shop, { now }).steps.map((s) => s.in_flight);
    expect(at(T0 + 10 * MIN)).toEqual([2, 1, 0, 0]);
    expect(at(T0 + HOUR)).toEqual([2, 1, 0, 0]); // a step at the window's last ms would still count
    expect(at(T0 + HOUR + 1)).toEqual([1, 1, 0, 0]);
    expect(at(T0 + 95 * MIN)).toEqual([0, 1, 0, 0]);
    expect(at(T0 + 2 * HOUR)).toEqual([0, 0, 0, 0]);
    expect(buildFunnelReport(journeys, shop, { now: T0 }).steps.map((s) => s.exited)).toEqual([2, 1, 0, 0]);
  });

  it('keeps an exit in flight while a later attempt of the unit is open', () => {
    // reached Signup on day 1; back on the home page 3h later: that attempt may still overtake
    const events = [page(T0, '/'), event(T0 + MIN, 'signup'), page(T0 + 3 * HOUR, '/', { session: 's2' })];
    const j = matchJourney(events, shop)!;
    expect([j.reached, j.start, j.windowEndsAt, j.openUntil]).toEqual([2, T0, T0 + HOUR, T0 + 4 * HOUR]);
    const inFlight = (now: number) => buildFunnelReport([j], shop, { now }).steps.map((s) => s.in_flight);
    expect(inFlight(T0 + 3 * HOUR + 30 * MIN)).toEqual([0, 1, 0, 0]);
    expect(inFlight(T0 + 4 * HOUR + 1)).toEqual([0, 0, 0, 0]);
  });

  it('lists where the exits went: top pages, null for those who left', () => {
    const journeys = [
      journey(1, { exitPath: '/about' }),
      journey(1, { exitPath: null }),
      journey(1, { exitPath: null }),
      journey(1, { exitPath: '/blog' }),
      journey(1, { exitPath: '/about' }),
      journey(1, { exitPath: '/about' }),
      journey(2, { exitPath: '/pricing' }),
      journey(4, { exitPath: null }),
    ];
    const report = buildFunnelReport(journeys, shop, { now: LATER });
    expect(report.steps.map((s) => s.exits_to)).toEqual([
      [
        { path: '/about', count: 3 },
        { path: null, count: 2 },
        { path: '/blog', count: 1 },
      ],
      [{ path: '/pricing', count: 1 }],
      [],
      [],
    ]);
  });

  it('keeps the ten commonest exit pages', () => {
    const journeys = Array.from({ length: 12 }, (_, i) =>
      Array.from({ length: i + 1 }, () => journey(1, { exitPath: `/p${String(i).padStart(2, '0')}` })),
    ).flat();
    const exits = buildFunnelReport(journeys, shop, { now: LATER }).steps[0].exits_to;
    expect(exits).toHaveLength(10);
    expect(exits[0]).toEqual({ path: '/p11', count: 12 });
    expect(exits[9]).toEqual({ path: '/p02', count: 3 });
  });
});

describe('buildFunnelReport: time to convert and exclusions', () => {
  it('gives the median, p90 and a histogram of step 1 to the last step, over conversions only', () => {
    // Conversions taking 3, 3, 12, 30 and 50 minutes; one journey that stopped early.
    const journeys = [[1, 1], [1, 1], [1, 10], [10, 19], [20, 29]].map((gaps) => journey(4, { gaps: [gaps[0] * MIN, gaps[1] * MIN, MIN] }));
    const report = buildFunnelReport([...journeys, journey(2)], shop, { now: T0 });
    expect(report.time_to_convert).toMatchObject({ median: 12 * MIN, p90: 50 * MIN });
    // A 1h window: buckets up to the first edge at or past an hour.
    expect(report.time_to_convert!.histogram).toEqual([
      { from_ms: 0, to_ms: MIN, count: 0 },
      { from_ms: MIN, to_ms: 5 * MIN, count: 2 },
      { from_ms: 5 * MIN, to_ms: 15 * MIN, count: 1 },
      { from_ms: 15 * MIN, to_ms: 60 * MIN, count: 2 },
    ]);
    expect(buildFunnelReport([journey(2)], shop, { now: T0 }).time_to_convert).toBeNull();
  });

  it('counts an excluded entry as excluded only, and takes it back alike', () => {
    const excluded = journey(4, { excluded: true });
    const report = buildFunnelReport([excluded, journey(4), journey(1)], shop, { now: T0 });
    expect(report.excluded).toBe(1);
    expect(report.entered).toBe(2);
    expect(report.converted).toBe(1);
    expect(report.time_to_convert!.histogram.reduce((sum, b) => sum + b.count, 0)).toBe(1);
    const aggregate = aggregateJourneys([excluded, journey(4)], 4);
    removeJourney(aggregate, excluded);
    expect(aggregate.excluded).toBe(0);
    expect(reportFromAggregate(aggregate, shop, { now: T0 }).entered).toBe(1);
  });
});

describe('buildFunnelReport: times, engagement, revenue', () => {
  it('gives the nearest-rank median and p90 of the time to the next step', () => {
    const journeys = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((m) => journey(2, { gaps: [m * MIN] }));
    journeys.push(journey(3, { gaps: [20 * MIN, 5000] }), journey(1));
    const report = buildFunnelReport(journeys, shop, { now: LATER });
    expect(report.steps[0].time_to_next_ms).toEqual({ median: 6 * MIN, p90: 10 * MIN });
    expect(report.steps[1].time_to_next_ms).toEqual({ median: 5000, p90: 5000 });
    expect(report.steps[2].time_to_next_ms).toBeNull();
    expect(report.steps[3].time_to_next_ms).toBeNull();
  });

  it('computes percentiles by nearest rank', () => {
    expect(percentiles({})).toBeNull();
    expect(percentiles({ 7: 1 })).toEqual({ median: 7, p90: 7 });
    expect(percentiles({ 1: 1, 2: 1, 3: 1, 4: 1 })).toEqual({ median: 2, p90: 4 });
    expect(percentiles({ 10: 9, 1000: 1 })).toEqual({ median: 10, p90: 10 });
    expect(percentiles({ 10: 8, 1000: 2 })).toEqual({ median: 10, p90: 1000 });
    expect(percentiles({ 300: 1, 20: 1, 1000: 1 })).toEqual({ median: 300, p90: 1000 });
  });

  it('gives the median engaged time and scroll per stage, over the journeys that reported any', () => {
    const journeys = [
      journey(2, { stages: [{ engagedMs: 1000, scroll: 10 }, { engagedMs: 1400, scroll: null }] }),
      journey(1, { stages: [{ engagedMs: 3000, scroll: 50 }] }),
      journey(1, { stages: [{ engagedMs: 8000, scroll: 90 }] }),
      journey(1, { stages: [{ engagedMs: null, scroll: null }] }),
    ];
    const report = buildFunnelReport(journeys, shop, { now: LATER });
    expect(report.steps.map((s) => [s.engaged_ms_median, s.scroll_median])).toEqual([
      [3000, 50],
      [1000, null], // durations are kept to the second
      [null, null],
      [null, null],
    ]);
  });

  it('sums the revenue of conversions by currency', () => {
    const journeys = [
      journey(4, { revenue: { amount: 25, currency: 'USD' } }),
      journey(4, { revenue: { amount: 0.1, currency: 'USD' } }),
      journey(4, { revenue: { amount: 0.2, currency: 'USD' } }),
      journey(4, { revenue: { amount: 19.99, currency: 'EUR' } }),
      journey(4),
    ];
    expect(buildFunnelReport(journeys, shop, { now: LATER }).revenue).toEqual({ EUR: 19.99, USD: 25.3 });
  });
});

describe('buildFunnelReport: sources, breakdown, trend', () => {
  const google = attribution({ channel: 'Organic Search', source: 'google', device: 'mobile', variant: 'A' });
  const ads = attribution({ channel: 'Paid Search', source: 'google', device: 'desktop', variant: 'B' });
  const direct = attribution({ channel: 'Direct', source: null, device: 'mobile', variant: null });
  const journeys = [
    journey(4, { attribution: google, start: T0 }),
    journey(1, { attribution: google, start: T0 + HOUR }),
    journey(2, { attribution: google, start: T0 + DAY }),
    journey(4, { attribution: ads, start: T0 + DAY }),
    journey(4, { attribution: ads, start: T0 + DAY + HOUR }),
    journey(1, { attribution: direct, start: T0 + 3 * DAY }),
  ];

  it('counts entered and converted per channel and source of the entry visit', () => {
    expect(buildFunnelReport(journeys, shop, { now: LATER }).sources).toEqual([
      { channel: 'Organic Search', source: 'google', entered: 3, converted: 1, conversion_rate: 1 / 3 },
      { channel: 'Paid Search', source: 'google', entered: 2, converted: 2, conversion_rate: 1 },
      { channel: 'Direct', source: null, entered: 1, converted: 0, conversion_rate: 0 },
    ]);
  });

  it('breaks the steps down by a dimension of the entry visit', () => {
    const report = buildFunnelReport(journeys, shop, { now: LATER, breakdown: 'device' });
    expect(report.breakdown_by).toBe('device');
    expect(report.breakdown.map((b) => [b.key, b.steps.map((s) => s.entered), b.steps.map((s) => s.exited), b.converted])).toEqual([
      ['mobile', [4, 2, 1, 1], [2, 1, 0, 0], 1],
      ['desktop', [2, 2, 2, 2], [0, 0, 0, 0], 2],
    ]);
    expect(report.breakdown[0].steps[0]).toEqual({ name: 'Home', entered: 4, exited: 2, in_flight: 0, exit_rate: 0.5 });
    expect(report.breakdown[0].conversion_rate).toBe(0.25);
  });

  it('keeps a missing value as its own null key, last among equals', () => {
    const report = buildFunnelReport(journeys, shop, { now: LATER, breakdown: 'variant' });
    expect(report.breakdown.map((b) => [b.key, b.steps[0].entered])).toEqual([
      ['A', 3],
      ['B', 2],
      [null, 1],
    ]);
  });

  it('counts in-flight exits per breakdown key', () => {
    const report = buildFunnelReport(journeys, shop, { now: T0 + DAY + 30 * MIN, breakdown: 'channel' });
    expect(report.breakdown.map((b) => [b.key, b.steps.map((s) => s.in_flight)])).toEqual([
      ['Organic Search', [0, 1, 0, 0]],
      ['Paid Search', [0, 0, 0, 0]],
      ['Direct', [1, 0, 0, 0]],
    ]);
    expect(report.steps.map((s) => s.in_flight)).toEqual([1, 1, 0, 0]);
  });

  it('has no breakdown unless asked', () => {
    const report = buildFunnelReport(journeys, shop, { now: LATER });
    expect(report.breakdown_by).toBeNull();
    expect(report.breakdown).toEqual([]);
  });

  it('trends entries and conversions by the day of step 1, filling the range', () => {
    const report = buildFunnelReport(journeys, shop, { now: LATER, range: { from: '2025-12-31', to: '2026-01-04' } });
    expect(report.trend).toEqual([
      { date: '2025-12-31', entered: 0, converted: 0, conversion_rate: 0 },
      { date: '2026-01-01', entered: 2, converted: 1, conversion_rate: 0.5 },
      { date: '2026-01-02', entered: 3, converted: 2, conversion_rate: 2 / 3 },
      { date: '2026-01-03', entered: 0, converted: 0, conversion_rate: 0 },
      { date: '2026-01-04', entered: 1, converted: 0, conversion_rate: 0 },
    ]);
  });

  it('trends by the day in another time zone when asked', () => {
    const late = [journey(4, { start: Date.UTC(2026, 0, 1, 23, 30) }), journey(1, { start: Date.UTC(2026, 0, 2, 1) })];
    expect(buildFunnelReport(late, shop, { now: LATER }).trend.map((d) => [d.date, d.entered])).toEqual([
      ['2026-01-01', 1],
      ['2026-01-02', 1],
    ]);
    expect(buildFunnelReport(late, shop, { now: LATER, timeZone: 'Europe/Berlin' }).trend.map((d) => [d.date, d.entered])).toEqual([
      ['2026-01-02', 2],
    ]);
    expect(() => buildFunnelReport(late, shop, { now: LATER, timeZone: 'Mars/Olympus' })).toThrow(RangeError);
  });
});

describe('FunnelAggregate', () => {
  const journeys = [
    journey(4, { revenue: { amount: 10, currency: 'USD' }, stages: [1, 2, 3, 4].map((m) => ({ engagedMs: m, scroll: m })) }),
    journey(2, { exitPath: '/about', start: T0 + DAY }),
    journey(1, { attribution: attribution({ channel: 'Email', source: 'news' }) }),
    journey(3, { gaps: [5, 7], start: T0 + 2 * DAY }),
  ];

  it('merges to what one aggregate of all journeys holds', () => {
    const whole = aggregateJourneys(journeys, 4);
    const merged = mergeAggregates(aggregateJourneys(journeys.slice(0, 2), 4), aggregateJourneys(journeys.slice(2), 4));
    expect(merged).toEqual(whole);
  });

  it('takes a journey back when it changes', () => {
    const aggregate = createFunnelAggregate(4);
    for (const j of journeys) addJourney(aggregate, j);
    const before = journey(2, { start: T0 + 5 * DAY, exitPath: null, revenue: null });
    const after = journey(4, { start: T0 + 5 * DAY, revenue: { amount: 3, currency: 'GBP' } });
    addJourney(aggregate, before);
    removeJourney(aggregate, before);
    addJourney(aggregate, after);
    expect(aggregate).toEqual(aggregateJourneys([...journeys, after], 4));
    removeJourney(aggregate, after);
    expect(aggregate).toEqual(aggregateJourneys(journeys, 4));
  });

  it('survives JSON, so a store can keep it', () => {
    const aggregate = aggregateJourneys(journeys, 4);
    const report = reportFromAggregate(JSON.parse(JSON.stringify(aggregate)), shop, { now: LATER });
    expect(report).toEqual(buildFunnelReport(journeys, shop, { now: LATER }));
  });

  it('refuses a journey or an aggregate of another funnel', () => {
    expect(() => addJourney(createFunnelAggregate(2), journey(3))).toThrow();
    expect(() => mergeAggregates(createFunnelAggregate(2), createFunnelAggregate(3))).toThrow();
    expect(() => reportFromAggregate(createFunnelAggregate(2), shop, { now: 0 })).toThrow();
  });
});

describe('from events to report', () => {
  it('reports the contract example shape from raw events', () => {
    const paid = { props: { paid: 'true' } };
    const units = [
      // converts, from Google
      [
        page(T0, '/', { channel: 'Organic Search', source: 'google' }),
        event(T0 + MIN, 'signup'),
        page(T0 + 3 * MIN, '/deals/spa'),
        event(T0 + 4 * MIN, 'purchase', { ...paid, revenue_amount: 25, revenue_currency: 'USD' }),
      ],
      // signs up then reads /about and leaves
      [page(T0, '/'), event(T0 + 2 * MIN, 'signup'), page(T0 + 3 * MIN, '/about')],
      // lands, leaves
      [page(T0, '/')],
      // never on the home page
      [page(T0, '/pricing'), event(T0 + MIN, 'signup')],
    ];
    const journeys = units.map((events) => matchJourney(events, shop)).filter((j) => j !== null);
    const report = buildFunnelReport(journeys, shop, { now: T0 + 30 * MIN });
    expect(report.steps.map((s) => [s.entered, s.exited, s.in_flight])).toEqual([
      [3, 1, 1],
      [2, 1, 1],
      [1, 0, 0],
      [1, 0, 0],
    ]);
    expect(report.steps[0].exits_to).toEqual([{ path: null, count: 1 }]);
    expect(report.steps[1].exits_to).toEqual([{ path: '/about', count: 1 }]);
    expect(report.steps[0].time_to_next_ms).toEqual({ median: MIN, p90: 2 * MIN });
    expect(report.revenue).toEqual({ USD: 25 });
    expect(report.sources[0]).toEqual({ channel: 'Direct', source: null, entered: 2, converted: 0, conversion_rate: 0 });
    expect(report.sources[1]).toEqual({ channel: 'Organic Search', source: 'google', entered: 1, converted: 1, conversion_rate: 1 });
    expect(report.close_rate).toBe(1);
  });
});
