// Who is behind a report's counts (CONTRACT.md, "Who dropped, and why"): one row per entry,
// made where the entry is matched (materializer.ts) and kept by the store once it is final, so a
// people list or a correlation reads the rows of its range and never matches history again.
//
// A row also carries the entry's factors: where it came from (channel, source, campaign,
// landing page, device, browser, variant) and what the unit did during it (custom events and
// pages viewed), each with the number of steps done when it first happened. "Before step K+1"
// is then a comparison, whatever K a correlation asks about.
import type { Entry } from './entries.js';
import type { FunnelEvent } from './journey.js';
import { twoProportionPValue } from './variants.js';

export interface PersonRow {
  /** `visitor:ID` or `lead:ID` (identity.ts). */
  unit: string;
  /** The visitor whose event was step 1. */
  visitor: string;
  lead: string | null;
  /** ts of step 1: the entry belongs to its day. */
  start: number;
  /** ts of the event that opened the entry. */
  opensAt: number;
  /** ts of the unit's last event inside the entry's window. */
  lastSeen: number;
  /** Until then a stopped entry is in flight (Journey.openUntil). */
  openUntil: number;
  reached: number;
  channel: string;
  source: string | null;
  campaign: string | null;
  exitPath: string | null;
  /** `kind\tvalue` of each factor. */
  factors: string[];
  /** Steps done when each factor first happened (0: it came with the entry). */
  factorSteps: number[];
}

export const PEOPLE_STATUSES = ['reached', 'dropped', 'in_flight', 'converted'] as const;
export type PeopleStatus = (typeof PEOPLE_STATUSES)[number];

export const FACTOR_KINDS = ['channel', 'source', 'campaign', 'landing', 'device', 'browser', 'variant', 'event', 'page'] as const;
export type FactorKind = (typeof FACTOR_KINDS)[number];

/** Distinct events and pages kept per entry: enough to rank factors, bounded for a visitor who clicks all day. */
const ACTIVITY_FACTORS = 16;
/** Events that say nothing of what the visitor chose to do. */
const NOT_A_FACTOR = new Set(['pageview', 'engagement']);

type RowEvent = FunnelEvent & { visitor: string };

/**
 * The rows of a unit's entries; `events` are the unit's events in ts order (those the entries were
 * matched from). An event that matches a step of the funnel (`isStep`) is no factor: that everyone
 * who bought put something in the cart first says nothing.
 */
export function personRows(unit: string, entries: readonly Entry[], events: readonly RowEvent[], isStep: (event: RowEvent) => boolean): PersonRow[] {
  const lead = unit.startsWith('lead:') ? unit.slice(5) : null;
  const rows: PersonRow[] = [];
  for (const entry of entries) {
    if (entry.excluded) continue;
    const first = lowerBound(events, entry.start);
    const end = lowerBound(events, entry.windowEndsAt + 1);
    const visitor = first < events.length ? events[first].visitor : unit.slice(unit.indexOf(':') + 1);
    const factors: string[] = [];
    const factorSteps: number[] = [];
    const add = (kind: FactorKind, value: string | null, steps: number) => {
      if (value === null || value === '') return;
      const key = `${kind}\t${value}`;
      if (!factors.includes(key)) {
        factors.push(key);
        factorSteps.push(steps);
      }
    };
    const { attribution } = entry;
    add('channel', attribution.channel, 0);
    add('source', attribution.source, 0);
    add('campaign', attribution.campaign, 0);
    add('landing', attribution.landing, 0);
    add('device', attribution.device, 0);
    add('browser', attribution.browser, 0);
    add('variant', attribution.variant, 0);
    let done = 0;
    let activities = 0;
    for (let i = first; i < end && activities < 2 * ACTIVITY_FACTORS; i++) {
      const event = events[i];
      // An event at the time of step k counts as after it: a step's own event is no factor of reaching it.
      while (done < entry.reached && entry.stepTimes[done] <= event.ts) done++;
      const before = factors.length;
      if (isStep(event)) continue;
      if (event.name === 'pageview') add('page', event.path, done);
      else if (!NOT_A_FACTOR.has(event.name)) add('event', event.name, done);
      if (factors.length > before) activities++;
    }
    rows.push({
      unit, visitor, lead, start: entry.start, opensAt: entry.opensAt,
      lastSeen: end > first ? events[end - 1].ts : entry.start,
      openUntil: entry.openUntil, reached: entry.reached,
      channel: attribution.channel, source: attribution.source, campaign: attribution.campaign,
      exitPath: entry.exitPath, factors, factorSteps,
    });
  }
  return rows;
}

function lowerBound(events: readonly { ts: number }[], ts: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (events[mid].ts < ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Which entries a people list asks for: step K (1-based) and a status, as the report counts them. */
export interface PeopleFilter {
  step: number;
  status: PeopleStatus;
  stepCount: number;
  /** The report's clock: a stopped entry whose window is still open is in flight. */
  now: number;
}

/** The reached-count bounds of a filter (inclusive), and whether the window must be open (true), closed (false) or either (null). */
export function peopleBounds(filter: PeopleFilter): { min: number; max: number; open: boolean | null } {
  const { step, status, stepCount } = filter;
  switch (status) {
    case 'reached': return { min: step, max: stepCount, open: null };
    case 'converted': return { min: stepCount, max: stepCount, open: null };
    // The last step has no one who stopped at it: a converted entry is never in flight or dropped.
    case 'dropped': return step < stepCount ? { min: step, max: step, open: false } : { min: 1, max: 0, open: false };
    case 'in_flight': return step < stepCount ? { min: step, max: step, open: true } : { min: 1, max: 0, open: true };
  }
}

export function matchesPeople(row: PersonRow, filter: PeopleFilter): boolean {
  const { min, max, open } = peopleBounds(filter);
  if (row.reached < min || row.reached > max) return false;
  return open === null || (row.openUntil >= filter.now) === open;
}

/** A page of `limit` rows after `after`, in list order, from rows that already match the filter (each part in any order). */
export function peoplePage(parts: Iterable<PersonRow>[], after: PeopleCursor | null, limit: number): { rows: PersonRow[]; more: boolean } {
  const rows: PersonRow[] = [];
  for (const part of parts) for (const row of part) if (after === null || comparePeople(row, after) > 0) rows.push(row);
  rows.sort(comparePeople);
  return { rows: rows.slice(0, limit), more: rows.length > limit };
}

/** People lists are ordered by entry time, then unit: a cursor is the last row's place. */
export interface PeopleCursor {
  start: number;
  unit: string;
  opensAt: number;
}

export function comparePeople(a: PeopleCursor, b: PeopleCursor): number {
  return a.start - b.start || (a.unit < b.unit ? -1 : a.unit > b.unit ? 1 : 0) || a.opensAt - b.opensAt;
}

export function encodeCursor(row: PeopleCursor): string {
  return Buffer.from(JSON.stringify([row.start, row.unit, row.opensAt])).toString('base64url');
}

/** The cursor, or null when the text is not one this API gave. */
export function decodeCursor(text: string): PeopleCursor | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 3) return null;
    const [start, unit, opensAt] = value as unknown[];
    if (!Number.isSafeInteger(start) || typeof unit !== 'string' || unit.length > 300 || !Number.isSafeInteger(opensAt)) return null;
    return { start: start as number, unit, opensAt: opensAt as number };
  } catch {
    return null;
  }
}

/**
 * What a correlation compares: the entries that reached `from` (1-based), split into those that
 * went on to `goal` and those that stopped before it with their window closed (in-flight ones
 * are neither yet). A factor counts when it happened before step `goal`.
 */
export interface CorrelationQuestion {
  from: number;
  goal: number;
  now: number;
}

/** The question of `?step=K` (went on to K+1), or without a step: did the entry convert. */
export function correlationQuestion(step: number | undefined, stepCount: number, now: number): CorrelationQuestion {
  return step === undefined ? { from: 1, goal: stepCount, now } : { from: step, goal: step + 1, now };
}

/** Per factor, how many of the entries that went on / stopped had it; with the totals. */
export interface FactorCounts {
  wentOn: number;
  stopped: number;
  factors: Map<string, { wentOn: number; stopped: number }>;
}

export function emptyFactorCounts(): FactorCounts {
  return { wentOn: 0, stopped: 0, factors: new Map() };
}

/** Adds rows to the counts of a question (a store that keeps rows in memory counts them here). */
export function countFactors(counts: FactorCounts, rows: Iterable<PersonRow>, question: CorrelationQuestion): FactorCounts {
  for (const row of rows) {
    if (row.reached < question.from) continue;
    const wentOn = row.reached >= question.goal;
    if (!wentOn && row.openUntil >= question.now) continue;
    if (wentOn) counts.wentOn++;
    else counts.stopped++;
    row.factors.forEach((factor, i) => {
      if (row.factorSteps[i] >= question.goal) return;
      let cell = counts.factors.get(factor);
      if (!cell) counts.factors.set(factor, (cell = { wentOn: 0, stopped: 0 }));
      if (wentOn) cell.wentOn++;
      else cell.stopped++;
    });
  }
  return counts;
}

export function mergeFactorCounts(into: FactorCounts, from: FactorCounts): FactorCounts {
  into.wentOn += from.wentOn;
  into.stopped += from.stopped;
  for (const [factor, cell] of from.factors) {
    const target = into.factors.get(factor);
    if (target) {
      target.wentOn += cell.wentOn;
      target.stopped += cell.stopped;
    } else into.factors.set(factor, { ...cell });
  }
  return into;
}

/**
 * The factors of a day's final entries, added up so that a correlation over a range merges days
 * instead of reading rows: per factor, entries counted by how far they got (reached) and how many
 * steps were done when the factor first happened. The factor '' is every entry (the totals).
 * Final entries' windows are closed, so whatever a question asks, it is answered from the cells.
 */
export interface FactorAggregate {
  stepCount: number;
  /** Factor → counts at (reached - 1) * stepCount + steps done (sparse: index → count). */
  cells: Map<string, Map<number, number>>;
}

export function createFactorAggregate(stepCount: number): FactorAggregate {
  return { stepCount, cells: new Map() };
}

export function addRowToFactors(aggregate: FactorAggregate, row: PersonRow): void {
  const bump = (factor: string, steps: number) => {
    let cell = aggregate.cells.get(factor);
    if (!cell) aggregate.cells.set(factor, (cell = new Map()));
    const index = (row.reached - 1) * aggregate.stepCount + Math.min(steps, aggregate.stepCount - 1);
    cell.set(index, (cell.get(index) ?? 0) + 1);
  };
  bump('', 0);
  row.factors.forEach((factor, i) => bump(factor, row.factorSteps[i]));
}

export function mergeFactorAggregates(into: FactorAggregate, from: FactorAggregate): FactorAggregate {
  for (const [factor, cell] of from.cells) {
    let target = into.cells.get(factor);
    if (!target) into.cells.set(factor, (target = new Map()));
    for (const [index, count] of cell) target.set(index, (target.get(index) ?? 0) + count);
  }
  return into;
}

/** Adds what a day's final entries answer to a question (their windows are closed: none is in flight). */
export function addFactorAggregate(counts: FactorCounts, aggregate: FactorAggregate, question: CorrelationQuestion): FactorCounts {
  const { stepCount } = aggregate;
  for (const [factor, cell] of aggregate.cells) {
    let wentOn = 0;
    let stopped = 0;
    for (const [index, count] of cell) {
      const reached = Math.floor(index / stepCount) + 1;
      const steps = index % stepCount;
      if (reached < question.from || steps >= question.goal) continue;
      if (reached >= question.goal) wentOn += count;
      else stopped += count;
    }
    if (wentOn + stopped === 0) continue;
    if (factor === '') {
      counts.wentOn += wentOn;
      counts.stopped += stopped;
      continue;
    }
    const target = counts.factors.get(factor);
    if (target) {
      target.wentOn += wentOn;
      target.stopped += stopped;
    } else counts.factors.set(factor, { wentOn, stopped });
  }
  return counts;
}

export function encodeFactorAggregate(aggregate: FactorAggregate): string {
  return JSON.stringify([aggregate.stepCount, [...aggregate.cells].map(([factor, cell]) => [factor, [...cell].flat()])]);
}

export function decodeFactorAggregate(text: string): FactorAggregate {
  const [stepCount, cells] = JSON.parse(text) as [number, [string, number[]][]];
  const aggregate = createFactorAggregate(stepCount);
  for (const [factor, flat] of cells) {
    const cell = new Map<number, number>();
    for (let i = 0; i < flat.length; i += 2) cell.set(flat[i], flat[i + 1]);
    aggregate.cells.set(factor, cell);
  }
  return aggregate;
}

/** The factor aggregates of final rows, per UTC day of their step 1. */
export function factorDaysOf(rows: readonly PersonRow[], stepCount: number, dayOf: (ms: number) => string): Map<string, FactorAggregate> {
  const days = new Map<string, FactorAggregate>();
  for (const row of rows) {
    const day = dayOf(row.start);
    let aggregate = days.get(day);
    if (!aggregate) days.set(day, (aggregate = createFactorAggregate(stepCount)));
    addRowToFactors(aggregate, row);
  }
  return days;
}

export interface Factor {
  kind: FactorKind;
  value: string;
  went_on: number;
  stopped: number;
  /** Odds of going on with the factor over the odds without it (0.5 added to each cell, so none is infinite). */
  odds_ratio: number;
  /** Two-sided: is the share that went on the same with and without the factor? */
  p_value: number;
  /** Share that went on with the factor over the share without it ("went on 3.1× more often"). */
  rate_ratio: number | null;
}

/** A factor needs this many entries with it, and as many without, to be weighed at all. */
export const MIN_FACTOR_ENTRIES = 5;
/** Factors listed at most. */
export const MAX_FACTORS = 30;

/** The factors that separate going on from stopping, most significant first. */
export function rankFactors(counts: FactorCounts): Factor[] {
  const total = counts.wentOn + counts.stopped;
  const factors: Factor[] = [];
  /** Unrounded |log odds ratio|: how strongly each factor goes with one side. */
  const strength = new Map<Factor, number>();
  for (const [key, cell] of counts.factors) {
    const withIt = cell.wentOn + cell.stopped;
    const without = total - withIt;
    if (withIt < MIN_FACTOR_ENTRIES || without < MIN_FACTOR_ENTRIES) continue;
    const a = cell.wentOn;
    const b = cell.stopped;
    const c = counts.wentOn - a;
    const d = counts.stopped - b;
    const tab = key.indexOf('\t');
    const rateWith = a / withIt;
    const rateWithout = c / without;
    const oddsRatio = ((a + 0.5) * (d + 0.5)) / ((b + 0.5) * (c + 0.5));
    const factor: Factor = {
      kind: key.slice(0, tab) as FactorKind,
      value: key.slice(tab + 1),
      went_on: a,
      stopped: b,
      odds_ratio: round(oddsRatio),
      p_value: twoProportionPValue(a, withIt, c, without),
      rate_ratio: rateWithout === 0 ? null : round(rateWith / rateWithout),
    };
    factors.push(factor);
    strength.set(factor, Math.round(Math.abs(Math.log(oddsRatio)) * 1e9));
  }
  return factors
    // Ties (two sides of one split) put what goes with going on first.
    .sort((x, y) => x.p_value - y.p_value || strength.get(y)! - strength.get(x)!
      || y.odds_ratio - x.odds_ratio
      || (x.kind < y.kind ? -1 : x.kind > y.kind ? 1 : 0) || (x.value < y.value ? -1 : x.value > y.value ? 1 : 0))
    .slice(0, MAX_FACTORS);
}

const round = (value: number) => Math.round(value * 1000) / 1000;
