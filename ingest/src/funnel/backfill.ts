// A funnel computed over a site's history: its events in time order run through the same
// materializer as live traffic, with the watermark following their times, so every entry
// whose span closed before `until` comes out final, exactly as if the funnel had existed all
// along. What is still open at `until` is left to the live state, which the store then matches
// from the events it holds (SiteFunnels.sweep), starting after the chain ends returned here.
import type { ParsedFunnel } from './definition.js';
import type { IdentityLink } from './identity.js';
import type { LiveInput } from './liveUnits.js';
import { SiteFunnels } from './materializer.js';
import type { PersonRow } from './people.js';
import { createFunnelAggregate, mergeAggregates, type FunnelAggregate } from './report.js';
import { DAY_MS } from '../time.js';

export interface BackfillResult {
  /** Day of step 1 → the aggregate of that day's final entries. */
  days: Map<string, FunnelAggregate>;
  /** Unit key → end of the window of its last final entry, for the units where it can still matter. */
  chainEnds: Map<string, number>;
}

export interface BackfillOptions {
  /** Entries whose span ends before this are made final (the live state's threshold when the back-fill began). */
  until: number;
  /** Identity links of the site (all of them: the rule that applies them depends only on each event, identity.ts). */
  links: Iterable<[visitor: string, link: IdentityLink]>;
  /** Called with the days made final so far (deltas to add) and their entries' people rows, at least once per simulated day. */
  onProgress?: (days: Map<string, FunnelAggregate>, watermark: number, rows: PersonRow[]) => void;
}

/** How far the simulated watermark moves between two steps that make entries final. */
const STEP_MS = DAY_MS;

/** Runs a funnel over events in time order (ties in order of arrival): every stored event before `until`, or more. */
export async function backfillFunnel(
  events: AsyncIterable<LiveInput> | Iterable<LiveInput>,
  funnel: ParsedFunnel,
  options: BackfillOptions,
): Promise<BackfillResult> {
  const site = new SiteFunnels('backfill');
  for (const [visitor, link] of options.links) site.restoreLink(visitor, link);
  site.addFunnel({ id: 'f', funnel, threshold: -Infinity, chainEnds: new Map() });
  site.sweep('f');
  const days = new Map<string, FunnelAggregate>();
  const collect = () => {
    const step = new Map<string, FunnelAggregate>();
    const rows: PersonRow[] = [];
    // Events come in time order, so every entry whose span ended before the newest one read is complete.
    for (const finalized of site.advance(Math.min(site.watermark, options.until))) {
      rows.push(...finalized.rows);
      for (const [day, aggregate] of finalized.days) {
        step.set(day, aggregate);
        const total = days.get(day) ?? createFunnelAggregate(funnel.steps.length);
        days.set(day, mergeAggregates(total, aggregate));
      }
    }
    options.onProgress?.(step, site.watermark, rows);
  };
  let nextStep = -Infinity;
  const take = (event: LiveInput) => {
    if (event.ts >= nextStep) {
      if (nextStep !== -Infinity) collect();
      nextStep = event.ts + STEP_MS;
    }
    site.replay(event);
  };
  // A synchronous source is read synchronously: a promise per event would cost more than matching it.
  if (Symbol.asyncIterator in events) for await (const event of events) take(event);
  else for (const event of events) take(event);
  // The caller gave every event before `until`: the entries whose span ended before it are complete.
  site.raiseWatermark(options.until);
  collect();
  const chainEnds = new Map<string, number>();
  for (const [key, windowEnd] of site.chainEndsOf('f')) chainEnds.set(key, windowEnd);
  return { days, chainEnds };
}
