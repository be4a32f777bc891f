// A unit's entries into a funnel over all time. An entry opens at the unit's first step-1
// event and lasts one window; the first step-1 event after it opens the next entry. Each entry
// is the furthest attempt started inside it (matchJourney). Because every entry belongs to the
// day it opened, per-day aggregates of entries add up exactly over any date range, which is
// what lets a report merge days instead of reading raw events.
import { stepMatches, type ParsedFunnel } from './definition.js';
import { matchJourney, type FunnelEvent, type Journey } from './journey.js';

/** How far past an entry's window its events are read, for the exit page and engagement of the session it ends in. */
export const SESSION_TAIL_MS = 86_400_000;

/** The unit's entries, oldest first; `events` must be in ts order. */
export function matchEntries(events: readonly FunnelEvent[], funnel: ParsedFunnel): Journey[] {
  const entries: Journey[] = [];
  const first = funnel.steps[0];
  let i = 0;
  while (i < events.length) {
    while (i < events.length && !stepMatches(first, events[i])) i++;
    if (i === events.length) break;
    const opensAt = events[i].ts;
    const periodEnd = opensAt + funnel.windowMs;
    let end = i;
    while (end < events.length && events[end].ts <= periodEnd + SESSION_TAIL_MS) end++;
    const journey = matchJourney(events.slice(i, end), funnel, { from: opensAt, to: periodEnd + 1 });
    if (journey) entries.push(journey);
    while (i < events.length && events[i].ts <= periodEnd) i++;
  }
  return entries;
}
