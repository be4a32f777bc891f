// Counted facts must rebuild exactly the report the journeys give (the ClickHouse store's path).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BREAKDOWN_DIMENSIONS, buildFunnelReport, reportFromAggregate, type FunnelEvent, type Journey,
} from '../../src/funnel/index.js';
import { matchEntries } from '../../src/funnel/entries.js';
import { aggregateFromFacts, factsOfJourney, type CountedFact } from '../../src/funnel/facts.js';
import { eventArb, funnelArb } from './arbitraries.js';
import { MIN, T0 } from './helpers.js';

/** Groups equal facts and counts them, as the store's GROUP BY does. */
function countFacts(facts: CountedFact[]): CountedFact[] {
  const counted = new Map<string, CountedFact>();
  for (const fact of facts) {
    const key = JSON.stringify({ ...fact, n: 0 });
    const known = counted.get(key);
    if (known) known.n += fact.n;
    else counted.set(key, { ...fact });
  }
  return [...counted.values()];
}

describe('counted facts', () => {
  it('rebuild the report of the journeys, whatever the time of the report and the breakdown', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(eventArb, { maxLength: 12 }), { maxLength: 25 }),
        funnelArb,
        fc.integer({ min: T0 - 60 * MIN, max: T0 + 7 * 60 * MIN }),
        fc.constantFrom(undefined, ...BREAKDOWN_DIMENSIONS),
        (units, funnel, now, breakdown) => {
          const journeys: Journey[] = units.flatMap((events: FunnelEvent[]) =>
            matchEntries([...events].sort((a, b) => a.ts - b.ts), funnel));
          const facts = countFacts(journeys.flatMap((j) => factsOfJourney(j, funnel.steps.length, now, breakdown ?? null)));
          const options = { now, breakdown, range: { from: '2026-01-01', to: '2026-01-02' } };
          const fromFacts = reportFromAggregate(aggregateFromFacts(facts, funnel.steps.length, breakdown ?? null), funnel, options);
          expect(fromFacts).toEqual(buildFunnelReport(journeys, funnel, options));
        },
      ),
      { numRuns: 300 },
    );
  });
});
