// A unit's entries into a funnel. An entry opens at the unit's first step-1 event (in an any-order
// funnel, any step's) and lasts one window; the first step-1 event after it opens the next entry. Each entry is the furthest
// attempt started inside it (matchJourney). Because every entry belongs to the day of its
// journey's step 1, per-day aggregates of entries add up exactly over any date range, which is
// what lets a report merge days instead of reading raw events.
//
// An entry reads the unit's events from its opening to the end of its window plus
// SESSION_TAIL_MS (its span): that is all it depends on, which is what makes it final once its
// span is over (horizon.ts).
import type { ParsedFunnel } from './definition.js';
import { defaultMatcher, matchJourney, opensAttempt, type FunnelEvent, type Journey, type StepMatcher } from './journey.js';

/** How far past an entry's window its events are read, for the exit page and engagement of the session it ends in. */
export const SESSION_TAIL_MS = 86_400_000;

export interface Entry extends Journey {
  /** ts of the step-1 event that opened the entry (the best attempt may start later in it). */
  opensAt: number;
}

export interface EntryOptions {
  /**
   * Where the chain of entries starts: the first step-1 event after this opens the first entry.
   * A store passes the end of the window of the unit's last entry that is already final.
   */
  after?: number;
  matches?: StepMatcher;
}

/** The end of an entry's span: the events it reads end here (included). */
export function spanEnd(opensAt: number, windowMs: number): number {
  return opensAt + windowMs + SESSION_TAIL_MS;
}

/** The unit's entries, oldest first; `events` must be in ts order. */
export function matchEntries(events: readonly FunnelEvent[], funnel: ParsedFunnel, options: EntryOptions = {}): Entry[] {
  const entries: Entry[] = [];
  const matches = options.matches ?? defaultMatcher(funnel);
  const after = options.after ?? -Infinity;
  let i = 0;
  while (i < events.length) {
    while (i < events.length && (events[i].ts <= after || !opensAttempt(funnel, matches, events[i]))) i++;
    if (i === events.length) break;
    const opensAt = events[i].ts;
    const periodEnd = opensAt + funnel.windowMs;
    let end = i;
    while (end < events.length && events[end].ts <= periodEnd + SESSION_TAIL_MS) end++;
    const journey = matchJourney(events.slice(i, end), funnel, { from: opensAt, to: periodEnd + 1 }, matches);
    if (journey) entries.push(Object.assign(journey, { opensAt }));
    while (i < events.length && events[i].ts <= periodEnd) i++;
  }
  return entries;
}
