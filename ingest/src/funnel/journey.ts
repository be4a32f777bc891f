// Matching: one unit's events → its journey through a funnel (how far it got, when, from where).
//
// Semantics (CONTRACT.md, "Funnel definition"), chosen where the contract leaves them open:
// - A unit reaches step k when it did steps 1..k in that order, each on a later event than the
//   one before (events in ts order, ties kept in input order; one event serves one step), all
//   within `window` of step 1 (ts(step k) - ts(step 1) <= windowMs).
// - Each unit makes one journey per report: its best attempt, the one that gets furthest; of
//   those, the earliest. Every step-1 event inside the entry range starts an attempt, so a unit
//   whose first attempt expired can still convert in a later one. Later steps may fall after
//   the range (within the window): a cohort keyed by the day of step 1.
// - A journey that stopped early is in flight while the window of the unit's latest attempt is
//   open (`openUntil`, the window end included): a later attempt may still overtake the best.
// - Stage k runs from the step-k event to the step-(k+1) event (that one included, so the
//   engagement it carries counts where it was spent); the last stage reached runs to the end of
//   the step's session: that is where the visitor exited, or what it did after converting.
// - `exitPath`: the path of the next pageview after the last step reached, in the same session;
//   null when there is none (the visitor left the site) and when the journey converted.
// - Ordering (`order`): `sequential` as above; `strict`: step k+1 must be the very next event
//   after step k (of any name), or the attempt stops at k; `any`: the steps in any order, each
//   served by its own event inside the window, `reached` counting the distinct steps (as many
//   as the events can serve at once); the attempt opens at any step's event.
// - `within` on step k: at most that long after step k-1. Where several chains reach as far, the
//   journey is the one whose steps come earliest (step by step), as the greedy walk gives.
// - Exclusions: an excluded event strictly after step a and before step b of the journey (or
//   the end of its window, when step b was not reached) takes the entry out (`excluded`).
import type { StoredEvent } from '../event.js';
import { stepMatches, type ParsedFunnel } from './definition.js';

/** The fields of a stored event that the engine reads. */
export type FunnelEvent = Pick<
  StoredEvent,
  | 'ts'
  | 'name'
  | 'path'
  | 'props'
  | 'channel'
  | 'source'
  | 'medium'
  | 'campaign'
  | 'device'
  | 'browser'
  | 'variant'
  | 'landing'
  | 'revenue_amount'
  | 'revenue_currency'
  | 'engaged_ms'
  | 'scroll'
  | 'session'
>;

/** Where the visit that entered step 1 came from, and on what. */
export interface EntryAttribution {
  channel: string;
  source: string | null;
  medium: string | null;
  campaign: string | null;
  device: string | null;
  browser: string | null;
  variant: string | null;
  landing: string;
}

export interface StageEngagement {
  /** Sum of the engaged ms reported during the stage; null when none was reported. */
  engagedMs: number | null;
  /** Deepest scroll (%) reported during the stage; null when none was reported. */
  scroll: number | null;
}

export interface Journey {
  /** ts of the step-1 event. */
  start: number;
  /** start + windowMs: the end of this attempt's window. */
  windowEndsAt: number;
  /**
   * The end of the window of the unit's latest attempt (>= windowEndsAt): until then a journey
   * that stopped early may still go on, through this attempt or a later one that overtakes it.
   * (Of a converted journey, only >= windowEndsAt is promised: it is never in flight.)
   */
  openUntil: number;
  /** Number of steps reached, 1..steps. */
  reached: number;
  /** ts of each step reached (length `reached`). */
  stepTimes: number[];
  attribution: EntryAttribution;
  /** Next page after the last step reached (same session), null when the visitor left the site or converted. */
  exitPath: string | null;
  /** Engagement per stage reached (length `reached`). */
  stages: StageEngagement[];
  /** Revenue of the last step's event, when the journey converted and it carried some. */
  revenue: { amount: number; currency: string } | null;
  /** An exclusion hit: the entry counts in the report's `excluded`, and in no step. */
  excluded: boolean;
}

/** Step-1 events count only inside [from, to) (epoch ms), when given. */
export interface EntryRange {
  from?: number;
  to?: number;
}

/**
 * Does the event match step k (0-based), or, for k >= steps, exclusion k - steps? Stores that
 * cache matches per distinct event pass their own.
 */
export type StepMatcher = (step: number, event: FunnelEvent) => boolean;

export function defaultMatcher(funnel: ParsedFunnel): StepMatcher {
  const stepCount = funnel.steps.length;
  return (k, event) => stepMatches(k < stepCount ? funnel.steps[k] : funnel.exclusions[k - stepCount], event);
}

/** The steps and exclusions a matcher answers for (exclusions after the steps). */
export function matcherCount(funnel: ParsedFunnel): number {
  return funnel.steps.length + funnel.exclusions.length;
}

/** Does the event open an attempt: step 1's, or, in any order, any step's? */
export function opensAttempt(funnel: ParsedFunnel, matches: StepMatcher, event: FunnelEvent): boolean {
  if (funnel.order !== 'any') return matches(0, event);
  for (let k = 0; k < funnel.steps.length; k++) if (matches(k, event)) return true;
  return false;
}

/**
 * The journey of one unit (its events in any order), or null when it never entered step 1
 * inside the entry range. O(events × steps).
 */
export function matchJourney(
  events: readonly FunnelEvent[],
  funnel: ParsedFunnel,
  entry: EntryRange = {},
  matches: StepMatcher = defaultMatcher(funnel),
): Journey | null {
  const sorted = isSortedByTs(events) ? events : [...events].sort((a, b) => a.ts - b.ts);
  const n = sorted.length;
  const stepCount = funnel.steps.length;
  const from = entry.from ?? -Infinity;
  const to = entry.to ?? Infinity;

  const attempt = funnel.order === 'any' ? anyOrderAttempt
    : funnel.order === 'strict' ? strictAttempt
      : funnel.steps.some((step) => step.withinMs !== null) ? withinAttempt : greedyAttempt;
  // next[k][i]: the first index >= i whose event matches step k (n when none). With it, the
  // greedy walk of an attempt (always the earliest next match, which leaves the most room in
  // the window) costs O(steps) per step-1 event. The other walks do not use it.
  const next: Int32Array[] = attempt === greedyAttempt ? funnel.steps.map(() => new Int32Array(n + 1).fill(n)) : [];
  if (attempt === greedyAttempt) {
    for (let i = n - 1; i >= 0; i--) {
      for (let k = 0; k < stepCount; k++) next[k][i] = matches(k, sorted[i]) ? i : next[k][i + 1];
    }
  }
  let best: number[] | null = null;
  let bestStart = 0;
  let latestStart = -Infinity;
  for (let start = 0; start < n; start++) {
    if (!opensAttempt(funnel, matches, sorted[start])) continue;
    const t0 = sorted[start].ts;
    if (t0 < from) continue;
    if (t0 >= to) break;
    latestStart = t0;
    const indexes = attempt(sorted, start, funnel, matches, next);
    if (!best || indexes.length > best.length) {
      best = indexes;
      bestStart = start;
    }
    if (best.length === stepCount) break;
  }
  if (!best) return null;
  const journey = describeJourney(sorted, best, bestStart, latestStart + funnel.windowMs, funnel);
  journey.excluded = isExcluded(sorted, journey, funnel, matches);
  return journey;
}

type Attempt = (events: readonly FunnelEvent[], start: number, funnel: ParsedFunnel, matches: StepMatcher, next: Int32Array[]) => number[];

/** In order, no time limit per step: always the earliest next match (which leaves the most room in the window). */
const greedyAttempt: Attempt = (events, start, funnel, _matches, next) => {
  const deadline = events[start].ts + funnel.windowMs;
  const indexes = [start];
  for (let k = 1; k < funnel.steps.length; k++) {
    const j = next[k][indexes[k - 1] + 1];
    if (j >= events.length || events[j].ts > deadline) break;
    indexes.push(j);
  }
  return indexes;
};

/** Strictly in a row: each step the very next event. */
const strictAttempt: Attempt = (events, start, funnel, matches) => {
  const deadline = events[start].ts + funnel.windowMs;
  const indexes = [start];
  for (let k = 1; k < funnel.steps.length; k++) {
    const j = indexes[k - 1] + 1;
    const within = funnel.steps[k].withinMs;
    if (j >= events.length || events[j].ts > deadline || !matches(k, events[j])) break;
    if (within !== null && events[j].ts - events[j - 1].ts > within) break;
    indexes.push(j);
  }
  return indexes;
};

/**
 * In order, with time limits between steps: the greedy walk no longer finds the furthest chain
 * (an earlier step k can leave step k+1 out of its reach), so first how far any chain gets, then
 * the chain whose steps come earliest among those. O(steps × events²) in the window; only for
 * funnels with a `within`.
 */
const withinAttempt: Attempt = (events, start, funnel, matches) => {
  const deadline = events[start].ts + funnel.windowMs;
  let end = start + 1;
  while (end < events.length && events[end].ts <= deadline) end++;
  const K = funnel.steps.length;
  const fits = (k: number, from: number, to: number) => {
    const within = funnel.steps[k].withinMs;
    return matches(k, events[to]) && (within === null || events[to].ts - events[from].ts <= within);
  };
  // How far: reach[i] is true when a chain of steps 0..k ends at event i (the latest such event before i is its best predecessor).
  let reach = new Array<boolean>(end).fill(false);
  reach[start] = true;
  let furthest = 1;
  for (let k = 1; k < K; k++) {
    const next = new Array<boolean>(end).fill(false);
    let latest = -1;
    let any = false;
    for (let i = start + 1; i < end; i++) {
      if (reach[i - 1]) latest = i - 1;
      if (latest >= 0 && fits(k, latest, i)) next[i] = any = true;
    }
    if (!any) break;
    reach = next;
    furthest = k + 1;
  }
  // Which chain: can[k][i] says event i as step k leads on to step `furthest`; then step by step the earliest that can.
  const can: boolean[][] = [];
  // The last step needs no successor: any of its matches after the start will do.
  can[furthest - 1] = Array.from({ length: end }, (_, i) => (furthest === 1 ? i === start : i > start && matches(furthest - 1, events[i])));
  for (let k = furthest - 2; k >= 0; k--) {
    can[k] = Array.from({ length: end }, (_, i) => {
      if (k === 0 ? i !== start : i <= start || !matches(k, events[i])) return false;
      for (let j = i + 1; j < end; j++) if (can[k + 1][j] && fits(k + 1, i, j)) return true;
      return false;
    });
  }
  const indexes = [start];
  for (let k = 1; k < furthest; k++) {
    const previous = indexes[k - 1];
    let j = previous + 1;
    while (j < end && !(can[k][j] && fits(k, previous, j))) j++;
    if (j >= end) break; // cannot happen: a chain this long was found above
    indexes.push(j);
  }
  return indexes;
};

/**
 * In any order: the events of the window from the opening one on, each serving one step; as
 * many distinct steps as they can serve at once (a maximum matching, grown event by event, so
 * the time each count was first reached is known). Returns the event at which each count was
 * reached, in time order.
 */
const anyOrderAttempt: Attempt = (events, start, funnel, matches) => {
  const deadline = events[start].ts + funnel.windowMs;
  const K = funnel.steps.length;
  const eventOfStep = new Array<number>(K).fill(-1);
  const reachedAt: number[] = [];
  const augment = (i: number, seen: boolean[]): boolean => {
    for (let k = 0; k < K; k++) {
      if (seen[k] || !matches(k, events[i])) continue;
      seen[k] = true;
      if (eventOfStep[k] < 0 || augment(eventOfStep[k], seen)) {
        eventOfStep[k] = i;
        return true;
      }
    }
    return false;
  };
  for (let i = start; i < events.length && events[i].ts <= deadline && reachedAt.length < K; i++) {
    if (augment(i, new Array<boolean>(K).fill(false))) reachedAt.push(i);
  }
  return reachedAt;
};

/** An exclusion's event strictly between step a's time and step b's (or the window's end). */
function isExcluded(events: readonly FunnelEvent[], journey: Journey, funnel: ParsedFunnel, matches: StepMatcher): boolean {
  const stepCount = funnel.steps.length;
  return funnel.exclusions.some((exclusion, x) => {
    const [a, b] = exclusion.between;
    if (journey.reached < a) return false;
    const after = journey.stepTimes[a - 1];
    const before = journey.reached >= b ? journey.stepTimes[b - 1] : journey.windowEndsAt;
    return events.some((event) => event.ts > after && event.ts < before && matches(stepCount + x, event));
  });
}

function describeJourney(
  events: readonly FunnelEvent[],
  indexes: number[],
  start: number,
  openUntil: number,
  funnel: ParsedFunnel,
): Journey {
  const first = events[start];
  const reached = indexes.length;
  const converted = reached === funnel.steps.length;
  const lastIndex = indexes[reached - 1];
  const last = events[lastIndex];

  const stages: StageEngagement[] = indexes.map((index, k) => {
    const stage = k + 1 < reached ? events.slice(index + 1, indexes[k + 1] + 1) : sameSessionAfter(events, index);
    return engagementOf(stage);
  });

  let exitPath: string | null = null;
  if (!converted) {
    const nextPage = sameSessionAfter(events, lastIndex).find((event) => event.name === 'pageview');
    exitPath = nextPage ? nextPage.path : null;
  }

  const revenue =
    converted && last.revenue_amount !== null && last.revenue_currency !== null
      ? { amount: last.revenue_amount, currency: last.revenue_currency }
      : null;

  return {
    start: first.ts,
    windowEndsAt: first.ts + funnel.windowMs,
    openUntil,
    reached,
    stepTimes: indexes.map((index) => events[index].ts),
    attribution: {
      channel: first.channel,
      source: first.source,
      medium: first.medium,
      campaign: first.campaign,
      device: first.device,
      browser: first.browser,
      variant: first.variant,
      landing: first.landing,
    },
    exitPath,
    stages,
    revenue,
    excluded: false,
  };
}

function sameSessionAfter(events: readonly FunnelEvent[], index: number): FunnelEvent[] {
  const session = events[index].session;
  return events.slice(index + 1).filter((event) => event.session === session);
}

function engagementOf(events: readonly FunnelEvent[]): StageEngagement {
  let engagedMs: number | null = null;
  let scroll: number | null = null;
  for (const event of events) {
    if (event.engaged_ms !== null) engagedMs = (engagedMs ?? 0) + event.engaged_ms;
    if (event.scroll !== null) scroll = Math.max(scroll ?? 0, event.scroll);
  }
  return { engagedMs, scroll };
}

function isSortedByTs(events: readonly FunnelEvent[]): boolean {
  for (let i = 1; i < events.length; i++) if (events[i].ts < events[i - 1].ts) return false;
  return true;
}

/** The unit a visitor's events count under: its lead once any of its events names one, else the visitor (persistent id or cookieless key). */
export function unitsOf(events: readonly Pick<StoredEvent, 'ts' | 'visitor' | 'lead'>[]): Map<string, string> {
  // The earliest lead of each visitor wins, so a visitor identified twice stays one unit.
  const leadOf = new Map<string, { ts: number; lead: string }>();
  for (const event of events) {
    if (event.lead === null) continue;
    const known = leadOf.get(event.visitor);
    if (!known || event.ts < known.ts) leadOf.set(event.visitor, { ts: event.ts, lead: event.lead });
  }
  const units = new Map<string, string>();
  for (const event of events) {
    if (units.has(event.visitor)) continue;
    const lead = leadOf.get(event.visitor);
    units.set(event.visitor, lead ? `lead:${lead.lead}` : `visitor:${event.visitor}`);
  }
  return units;
}

/** Groups events by unit (see `unitsOf`), each group in ts order. */
export function groupByUnit<E extends Pick<StoredEvent, 'ts' | 'visitor' | 'lead'>>(events: readonly E[]): Map<string, E[]> {
  const units = unitsOf(events);
  const groups = new Map<string, E[]>();
  for (const event of events) {
    const unit = units.get(event.visitor)!;
    const group = groups.get(unit);
    if (group) group.push(event);
    else groups.set(unit, [event]);
  }
  for (const group of groups.values()) group.sort((a, b) => a.ts - b.ts);
  return groups;
}

/** Journeys of every unit among `events` (all of one site) that entered step 1 inside the entry range. */
export function matchJourneys(
  events: readonly (FunnelEvent & Pick<StoredEvent, 'visitor' | 'lead'>)[],
  funnel: ParsedFunnel,
  entry: EntryRange = {},
): Journey[] {
  const journeys: Journey[] = [];
  for (const group of groupByUnit(events).values()) {
    const journey = matchJourney(group, funnel, entry);
    if (journey) journeys.push(journey);
  }
  return journeys;
}
