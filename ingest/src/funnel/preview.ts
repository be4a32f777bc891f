// Reports that are not kept current: a definition the editor is trying out (preview), matched
// from the raw events of its range. A preview reads the events from one window before the
// range to one window and a session tail after it, and chains each unit's entries from the
// start of what it read; a saved funnel chains them over all history (materializer.ts), so the
// two can differ for a unit that kept re-entering step 1 across the range's start.
import type { ParsedFunnel } from './definition.js';
import { matchEntries, SESSION_TAIL_MS } from './entries.js';
import { unitOf, type IdentityLink } from './identity.js';
import type { LiveInput } from './liveUnits.js';
import {
  aggregateJourneys, mergeAggregates, rangeDays, reportFromAggregate, createFunnelAggregate,
  type BreakdownDimension, type FunnelAggregate, type FunnelReport,
} from './report.js';

export interface ReportRange {
  fromMs: number;
  toMs: number;
}

/** The time span of events a preview of `range` reads. */
export function previewSpan(funnel: ParsedFunnel, range: ReportRange): ReportRange {
  return { fromMs: range.fromMs - funnel.windowMs, toMs: range.toMs + funnel.windowMs + SESSION_TAIL_MS };
}

/** The report of an unsaved funnel from the events of `previewSpan` (any order) and the site's identity links. */
export function previewReport(
  events: Iterable<LiveInput>,
  linkOf: (visitor: string) => IdentityLink | undefined,
  funnel: ParsedFunnel,
  range: ReportRange,
  options: { now: number; breakdown?: BreakdownDimension },
): FunnelReport {
  const units = new Map<string, LiveInput[]>();
  for (const event of events) {
    const unit = unitOf(event, event.visitor, linkOf(event.visitor));
    const list = units.get(unit);
    if (list) list.push(event);
    else units.set(unit, [event]);
  }
  const entries = [];
  for (const list of units.values()) {
    list.sort((a, b) => a.ts - b.ts || a.arrival - b.arrival);
    for (const entry of matchEntries(list, funnel)) {
      if (entry.start >= range.fromMs && entry.start < range.toMs) entries.push(entry);
    }
  }
  const aggregate = aggregateJourneys(entries, funnel.steps.length);
  return reportFromAggregate(aggregate, funnel, { ...options, range: rangeDays(range) });
}

/**
 * The report of a saved funnel: its final days (from the store) and its live journeys, merged
 * for a report at `now` by `breakdown`.
 */
export function composeReport(
  funnel: ParsedFunnel,
  parts: Iterable<FunnelAggregate>,
  range: ReportRange,
  options: { now: number; breakdown?: BreakdownDimension },
): FunnelReport {
  const merged = createFunnelAggregate(funnel.steps.length);
  for (const part of parts) mergeAggregates(merged, part, { openAt: options.now, only: options.breakdown ?? null });
  return reportFromAggregate(merged, funnel, { ...options, range: rangeDays(range) });
}
