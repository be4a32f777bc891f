// The materialized engine's semantics read literally, for property tests of the engine and of
// the stores: random histories of visitors (some naming leads shared by others) over two weeks,
// arriving shuffled inside the open horizon, and the report every unit's entries over all of its
// history give.
import fc from 'fast-check';
import { aggregateJourneys, type BreakdownDimension, type ParsedFunnel } from '../../src/funnel/index.js';
import { matchEntries } from '../../src/funnel/entries.js';
import { unitOf, type IdentityLink } from '../../src/funnel/identity.js';
import type { LiveInput } from '../../src/funnel/liveUnits.js';
import { composeReport } from '../../src/funnel/preview.js';
import { DAY, HOUR } from './helpers.js';
import { eventArb, funnelArbOf } from './arbitraries.js';

export type Arrived = LiveInput;

export const funnelArb = funnelArbOf(['30m', '2h', '1d', '3d'], 4);

/**
 * Visitors making visits on days 0..14 (events of eventArb, moved to their day); some name one
 * of three leads in one of their events, so leads are shared by visitors. Arrival order is time
 * order shuffled within six hours: never late.
 */
export const historyArb: fc.Arbitrary<Arrived[]> = fc
  .array(
    fc.record({
      visits: fc.array(fc.record({ day: fc.integer({ min: 0, max: 14 }), events: fc.array(eventArb, { minLength: 1, maxLength: 6 }) }), { minLength: 1, maxLength: 4 }),
      lead: fc.option(fc.record({ which: fc.integer({ min: 0, max: 2 }), at: fc.nat() })),
    }),
    { minLength: 1, maxLength: 14 },
  )
  .chain((visitors) => {
    const events: Omit<LiveInput, 'arrival'>[] = [];
    visitors.forEach((visitor, v) => {
      const own: Omit<LiveInput, 'arrival'>[] = [];
      visitor.visits.forEach((visit, i) => {
        for (const e of visit.events) {
          own.push({ ...e, ts: e.ts + visit.day * DAY, session: `v${v}-${i}-${e.session}`, visitor: `v${v}`, lead: null });
        }
      });
      if (visitor.lead) {
        const at = visitor.lead.at % own.length;
        own[at] = { ...own[at], lead: `L${visitor.lead.which}` };
      }
      events.push(...own);
    });
    return fc.array(fc.integer({ min: 0, max: 6 * HOUR }), { minLength: events.length, maxLength: events.length })
      .map((jitter) => events.map((e, i) => ({ ...e, arrival: e.ts + jitter[i] + i / 1000 })).sort((a, b) => a.arrival - b.arrival));
  });

/** The links the tracker makes: each visitor's first event (to arrive) that names a lead. */
export function linksOf(arrived: readonly Arrived[]): Map<string, IdentityLink> {
  const links = new Map<string, IdentityLink>();
  for (const e of arrived) if (e.lead !== null && !links.has(e.visitor)) links.set(e.visitor, { lead: e.lead, at: e.ts });
  return links;
}

/** The semantics, read literally: units by the identity rule, every unit's entries over all of its history. */
export function referenceReport(arrived: readonly Arrived[], funnel: ParsedFunnel, range: { fromMs: number; toMs: number }, now: number, breakdown?: BreakdownDimension) {
  const links = linksOf(arrived);
  const units = new Map<string, Arrived[]>();
  for (const e of arrived) {
    const unit = unitOf(e, e.visitor, links.get(e.visitor));
    units.set(unit, [...(units.get(unit) ?? []), e]);
  }
  const entries = [...units.values()].flatMap((list) => matchEntries([...list].sort((a, b) => a.ts - b.ts || a.arrival - b.arrival), funnel));
  const inRange = entries.filter((e) => e.start >= range.fromMs && e.start < range.toMs);
  return composeReport(funnel, [aggregateJourneys(inRange, funnel.steps.length)], range, { now, breakdown });
}

