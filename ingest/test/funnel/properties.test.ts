// Invariants of the engine over random event streams of random units and random funnels.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  aggregateJourneys,
  BREAKDOWN_DIMENSIONS,
  buildFunnelReport,
  matchJourney,
  mergeAggregates,
  removeJourney,
  stepMatches,
  type FunnelEvent,
  type Journey,
  type ParsedFunnel,
} from '../../src/funnel/index.js';
import { MIN, T0 } from './helpers.js';
import { eventArb, funnelArb, plainFunnelArb } from './arbitraries.js';

const unitsArb = fc.array(fc.array(eventArb, { maxLength: 12 }), { maxLength: 25 });
const nowArb = fc.integer({ min: T0 - 60 * MIN, max: T0 + 7 * 60 * MIN });

function journeysOf(units: FunnelEvent[][], funnel: ParsedFunnel): Journey[] {
  return units.map((events) => matchJourney(events, funnel)).filter((j): j is Journey => j !== null);
}

/** The definition, checked by brute force: the most steps any ordered choice of events reaches in the window. */
function bruteForceReached(events: FunnelEvent[], funnel: ParsedFunnel): number {
  const sorted = [...events].sort((a, b) => a.ts - b.ts);
  let best = 0;
  const extend = (k: number, after: number, t0: number) => {
    best = Math.max(best, k);
    if (k === funnel.steps.length) return;
    for (let i = after + 1; i < sorted.length; i++) {
      if (sorted[i].ts - t0 > funnel.windowMs) break;
      if (stepMatches(funnel.steps[k], sorted[i])) extend(k + 1, i, t0);
    }
  };
  sorted.forEach((e, i) => {
    if (stepMatches(funnel.steps[0], e)) extend(1, i, e.ts);
  });
  return best;
}

const runs = { numRuns: 300 };

describe('engine invariants', () => {
  // Order modes, step time limits and exclusions have their own brute force (ordering.test.ts).
  it('reaches as far as the definition allows (brute force)', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 9 }), plainFunnelArb, (events, funnel) => {
        expect(matchJourney(events, funnel)?.reached ?? 0).toBe(bruteForceReached(events, funnel));
      }),
      runs,
    );
  });

  it('records a consistent journey: ordered steps inside the window, one stage per step', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 12 }), funnelArb, (events, funnel) => {
        const journey = matchJourney(events, funnel);
        if (!journey) return;
        expect(journey.stepTimes).toHaveLength(journey.reached);
        expect(journey.stages).toHaveLength(journey.reached);
        expect(journey.stepTimes[0]).toBe(journey.start);
        expect(journey.windowEndsAt).toBe(journey.start + funnel.windowMs);
        expect(journey.openUntil).toBeGreaterThanOrEqual(journey.windowEndsAt);
        for (let k = 1; k < journey.reached; k++) expect(journey.stepTimes[k]).toBeGreaterThanOrEqual(journey.stepTimes[k - 1]);
        expect(journey.stepTimes[journey.reached - 1]).toBeLessThanOrEqual(journey.windowEndsAt);
        if (journey.reached === funnel.steps.length) expect(journey.exitPath).toBeNull();
        if (journey.reached < funnel.steps.length) expect(journey.revenue).toBeNull();
      }),
      runs,
    );
  });

  it('does not depend on the order events arrive in', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(eventArb, { maxLength: 12, selector: (e) => e.ts }),
        funnelArb,
        fc.integer(),
        (events, funnel, seed) => {
          const shuffled = [...events].sort((a, b) => ((a.ts * 7919 + seed) % 101) - ((b.ts * 7919 + seed) % 101));
          expect(matchJourney(shuffled, funnel)).toEqual(matchJourney(events, funnel));
        },
      ),
      runs,
    );
  });

  it('never lets entered rise; exited(k) + entered(k+1) = entered(k); in_flight <= exited', () => {
    fc.assert(
      fc.property(unitsArb, funnelArb, nowArb, (units, funnel, now) => {
        const journeys = journeysOf(units, funnel);
        const report = buildFunnelReport(journeys, funnel, { now });
        const { steps } = report;
        const last = steps.length - 1;
        expect(steps[0].entered + report.excluded).toBe(journeys.length);
        for (let k = 0; k < last; k++) {
          expect(steps[k + 1].entered).toBeLessThanOrEqual(steps[k].entered);
          expect(steps[k].exited + steps[k + 1].entered).toBe(steps[k].entered);
          expect(steps[k].in_flight).toBeLessThanOrEqual(steps[k].exited);
          expect(steps[k].in_flight).toBeGreaterThanOrEqual(0);
          expect(steps[k].exits_to.reduce((sum, e) => sum + e.count, 0)).toBe(steps[k].exited);
        }
        expect([steps[last].exited, steps[last].in_flight]).toEqual([0, 0]);
        expect(report.converted).toBe(steps[last].entered);
        expect(report.conversion_rate).toBeGreaterThanOrEqual(0);
        expect(report.conversion_rate).toBeLessThanOrEqual(1);
      }),
      runs,
    );
  });

  it('adds up: breakdown parts, sources and trend days make the whole', () => {
    fc.assert(
      fc.property(unitsArb, funnelArb, nowArb, (units, funnel, now) => {
        const journeys = journeysOf(units, funnel);
        const whole = buildFunnelReport(journeys, funnel, { now });
        const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
        for (const dimension of BREAKDOWN_DIMENSIONS) {
          const { breakdown } = buildFunnelReport(journeys, funnel, { now, breakdown: dimension });
          expect(new Set(breakdown.map((b) => b.key)).size).toBe(breakdown.length);
          whole.steps.forEach((step, k) => {
            expect(sum(breakdown.map((b) => b.steps[k].entered))).toBe(step.entered);
            expect(sum(breakdown.map((b) => b.steps[k].exited))).toBe(step.exited);
            expect(sum(breakdown.map((b) => b.steps[k].in_flight))).toBe(step.in_flight);
          });
          expect(sum(breakdown.map((b) => b.converted))).toBe(whole.converted);
        }
        expect(sum(whole.sources.map((s) => s.entered))).toBe(whole.steps[0].entered);
        expect(sum(whole.sources.map((s) => s.converted))).toBe(whole.converted);
        expect(sum(whole.campaigns.map((c) => c.entered))).toBe(whole.steps[0].entered);
        expect(sum(whole.campaigns.map((c) => c.converted))).toBe(whole.converted);
        // Each source is the sum of its campaigns.
        for (const source of whole.sources) {
          const parts = whole.campaigns.filter((c) => c.channel === source.channel && c.source === source.source);
          expect(sum(parts.map((c) => c.entered))).toBe(source.entered);
        }
        expect(sum(whole.trend.map((d) => d.entered))).toBe(whole.steps[0].entered);
        expect(sum(whole.trend.map((d) => d.converted))).toBe(whole.converted);
      }),
      runs,
    );
  });

  it('aggregates the same in any split and merge order', () => {
    fc.assert(
      fc.property(unitsArb, funnelArb, fc.array(fc.boolean(), { minLength: 25, maxLength: 25 }), (units, funnel, sides) => {
        const journeys = journeysOf(units, funnel);
        const n = funnel.steps.length;
        const left = aggregateJourneys(journeys.filter((_, i) => sides[i]), n);
        const right = aggregateJourneys(journeys.filter((_, i) => !sides[i]), n);
        expect(mergeAggregates(right, left)).toEqual(aggregateJourneys(journeys, n));
      }),
      runs,
    );
  });

  it('takes journeys back to exactly the aggregate of the rest', () => {
    fc.assert(
      fc.property(unitsArb, funnelArb, fc.array(fc.boolean(), { minLength: 25, maxLength: 25 }), (units, funnel, removed) => {
        const journeys = journeysOf(units, funnel);
        const n = funnel.steps.length;
        const aggregate = aggregateJourneys(journeys, n);
        journeys.forEach((journey, i) => removed[i] && removeJourney(aggregate, journey));
        expect(aggregate).toEqual(aggregateJourneys(journeys.filter((_, i) => !removed[i]), n));
      }),
      runs,
    );
  });
});
