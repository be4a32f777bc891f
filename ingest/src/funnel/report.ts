// Journeys → the report (CONTRACT.md, "Report"), through an aggregate a store can keep.
//
// `FunnelAggregate` is plain JSON and exact: counts, integer revenue in millionths, and the
// measured values as multisets (value → count). Journeys can be added, removed (when a unit's
// journey changes as its events arrive) and aggregates merged (one per day of step 1, merged
// over a report's range): any order gives the same aggregate. `in_flight` depends on the time
// of the report, so the aggregate keeps when each journey that stopped early closes.
//
// Percentiles are nearest-rank: the p-th percentile of n sorted values is the value of rank
// ceil(p/100 × n), so a median or p90 is always a measured value (for an even n, the median is
// the lower of the two middle values).
import { utcDay, DAY_MS } from '../time.js';
import type { ParsedFunnel } from './definition.js';
import type { Journey } from './journey.js';

export const BREAKDOWN_DIMENSIONS = ['channel', 'source', 'device', 'browser', 'variant', 'landing'] as const;
export type BreakdownDimension = (typeof BREAKDOWN_DIMENSIONS)[number];

/** Value (as a decimal string) → how many times it was measured. */
export type Multiset = Record<string, number>;

/**
 * Times in ascending order, repeats kept. `openUntil` has about one distinct value per journey,
 * so it is kept sorted: "how many are still open at `now`" is then a binary search, not a walk.
 */
export type SortedTimes = number[];

/** `exitsTo` key of the visitors who left the site (a real path always starts with `/`). */
export const LEFT_SITE = '';

export interface StepAggregate {
  /** Journeys whose furthest step is this one. */
  stopped: number;
  /** `openUntil` of the journeys that stopped here (not for the last step). */
  openUntil: SortedTimes;
  /** Next path of the journeys that stopped here (`LEFT_SITE` for none). */
  exitsTo: Record<string, number>;
  /** ms from this step to the next, of the journeys that went on. */
  timeToNext: Multiset;
  engagedMs: Multiset;
  scroll: Multiset;
}

export interface SourceCell {
  channel: string;
  source: string | null;
  /** Only in `campaigns`: the utm_campaign of the entry visit. */
  campaign?: string | null;
  entered: number;
  converted: number;
}

export interface BreakdownCell {
  key: string | null;
  /** Journeys whose furthest step is step k+1, at index k. */
  stopped: number[];
  /** `openUntil` of the journeys that stopped at step k+1, at index k. */
  openUntil: SortedTimes[];
}

export interface DayCell {
  entered: number;
  converted: number;
}

export interface FunnelAggregate {
  stepCount: number;
  /** IANA time zone of the trend's days. */
  timeZone: string;
  steps: StepAggregate[];
  /** Currency → revenue of the converted journeys, in millionths (exact integer sums). */
  revenueMicros: Record<string, number>;
  /** Revenue-carrying journeys per currency, so a currency disappears with its last journey. */
  revenueCount: Record<string, number>;
  /** Key of channel and source → cell. */
  sources: Record<string, SourceCell>;
  /** Key of channel, source and campaign → cell. */
  campaigns: Record<string, SourceCell>;
  /** Dimension → key of the value (or null) → cell. */
  breakdowns: Record<BreakdownDimension, Record<string, BreakdownCell>>;
  /** 'YYYY-MM-DD' of step 1 → cell. */
  days: Record<string, DayCell>;
  /** Entries taken out by an exclusion (counted nowhere else). */
  excluded: number;
  /** Step 1 to the last step of converted journeys, to the second: ms → count. */
  timeToConvert: Multiset;
}

export interface StepReport {
  name: string;
  entered: number;
  exited: number;
  in_flight: number;
  exit_rate: number;
  time_to_next_ms: { median: number; p90: number } | null;
  engaged_ms_median: number | null;
  scroll_median: number | null;
  exits_to: { path: string | null; count: number }[];
}

export interface SourceReport {
  channel: string;
  source: string | null;
  /** Only in `campaigns`. */
  campaign?: string | null;
  entered: number;
  converted: number;
  conversion_rate: number;
}

export interface BreakdownStepReport {
  name: string;
  entered: number;
  exited: number;
  in_flight: number;
  exit_rate: number;
}

export interface BreakdownReport {
  key: string | null;
  steps: BreakdownStepReport[];
  converted: number;
  conversion_rate: number;
}

export interface TrendPoint {
  date: string;
  entered: number;
  converted: number;
  conversion_rate: number;
}

export interface FunnelReport {
  name: string;
  window: string;
  steps: StepReport[];
  entered: number;
  converted: number;
  conversion_rate: number;
  close_rate: number;
  revenue: Record<string, number>;
  sources: SourceReport[];
  /** The entry sources split by campaign (utm_campaign; null for none). */
  campaigns: SourceReport[];
  breakdown_by: BreakdownDimension | null;
  breakdown: BreakdownReport[];
  trend: TrendPoint[];
  /** Entries taken out by the funnel's exclusions. */
  excluded: number;
  /** From step 1 to the last step, over converted entries; null when none converted. */
  time_to_convert: TimeToConvert | null;
}

export interface TimeToConvert {
  median: number;
  p90: number;
  /** Counts per bucket (HISTOGRAM_EDGES_MS, up to the window), empty buckets included. */
  histogram: { from_ms: number; to_ms: number; count: number }[];
}

/** Bucket edges of the time-to-convert histogram: the spans a marketer thinks in. */
export const HISTOGRAM_EDGES_MS = [
  0, 60_000, 5 * 60_000, 15 * 60_000, 3_600_000, 4 * 3_600_000, 12 * 3_600_000, 86_400_000,
  3 * 86_400_000, 7 * 86_400_000, 14 * 86_400_000, 30 * 86_400_000, 60 * 86_400_000, 90 * 86_400_000,
];

export interface ReportOptions {
  /** Time of the report (epoch ms): windows ending at or after it are still open. */
  now: number;
  breakdown?: BreakdownDimension;
  /** IANA time zone of the trend's days; default UTC. */
  timeZone?: string;
  /** Days of the trend, both included ('YYYY-MM-DD'); days without entries show as zeros. */
  range?: { from: string; to: string };
}

/** The trend's days, both included, of a [fromMs, toMs) range of whole UTC days. */
export function rangeDays(range: { fromMs: number; toMs: number }): { from: string; to: string } {
  return { from: utcDay(range.fromMs), to: utcDay(range.toMs - DAY_MS) };
}

/** Most exit destinations listed per step. */
export const EXITS_TO_LIMIT = 10;

export function createFunnelAggregate(stepCount: number, timeZone = 'UTC'): FunnelAggregate {
  dayFormatter(timeZone); // throws a RangeError on an unknown zone
  const breakdowns = {} as Record<BreakdownDimension, Record<string, BreakdownCell>>;
  for (const dimension of BREAKDOWN_DIMENSIONS) breakdowns[dimension] = {};
  return {
    stepCount,
    timeZone,
    steps: Array.from({ length: stepCount }, () => ({
      stopped: 0,
      openUntil: [],
      exitsTo: {},
      timeToNext: {},
      engagedMs: {},
      scroll: {},
    })),
    revenueMicros: {},
    revenueCount: {},
    sources: {},
    campaigns: {},
    breakdowns,
    days: {},
    excluded: 0,
    timeToConvert: {},
  };
}

export function addJourney(aggregate: FunnelAggregate, journey: Journey): void {
  applyJourney(aggregate, journey, 1);
}

/** Takes back a journey added before (when a unit's journey changes, remove the old, add the new). */
export function removeJourney(aggregate: FunnelAggregate, journey: Journey): void {
  applyJourney(aggregate, journey, -1);
}

export function aggregateJourneys(journeys: Iterable<Journey>, stepCount: number, timeZone = 'UTC'): FunnelAggregate {
  const aggregate = createFunnelAggregate(stepCount, timeZone);
  for (const journey of journeys) addJourney(aggregate, journey);
  return aggregate;
}

/**
 * `into` plus `from`, in place (both of the same funnel and time zone).
 *
 * For a merge made for one report, `openAt` (the report's time) keeps of `from`'s `openUntil`
 * values (one per journey: the costly part to copy) only those still open then, and `only`
 * merges the breakdown of that one dimension (or none, with `null`).
 */
export function mergeAggregates(
  into: FunnelAggregate,
  from: FunnelAggregate,
  options: { openAt?: number; only?: BreakdownDimension | null } = {},
): FunnelAggregate {
  const mergeOpen = (target: SortedTimes, source: SortedTimes) => {
    const open = options.openAt === undefined ? source : source.slice(lowerBound(source, options.openAt));
    if (open.length > 0) mergeTimesInto(target, open);
  };
  const dimensions = options.only === undefined ? BREAKDOWN_DIMENSIONS : options.only === null ? [] : [options.only];
  if (into.stepCount !== from.stepCount || into.timeZone !== from.timeZone) {
    throw new Error('cannot merge aggregates of different funnels or time zones');
  }
  into.steps.forEach((step, k) => {
    const other = from.steps[k];
    step.stopped += other.stopped;
    mergeOpen(step.openUntil, other.openUntil);
    addAll(step.exitsTo, other.exitsTo);
    addAll(step.timeToNext, other.timeToNext);
    addAll(step.engagedMs, other.engagedMs);
    addAll(step.scroll, other.scroll);
  });
  addAll(into.revenueMicros, from.revenueMicros);
  addAll(into.revenueCount, from.revenueCount);
  for (const field of ['sources', 'campaigns'] as const) {
    for (const [key, cell] of Object.entries(from[field])) {
      const target = (into[field][key] ??= { ...cell, entered: 0, converted: 0 });
      target.entered += cell.entered;
      target.converted += cell.converted;
    }
  }
  for (const dimension of dimensions) {
    for (const [key, cell] of Object.entries(from.breakdowns[dimension])) {
      const target = (into.breakdowns[dimension][key] ??= emptyBreakdownCell(cell.key, into.stepCount));
      cell.stopped.forEach((count, k) => (target.stopped[k] += count));
      cell.openUntil.forEach((values, k) => mergeOpen(target.openUntil[k], values));
    }
  }
  for (const [date, cell] of Object.entries(from.days)) {
    const target = (into.days[date] ??= { entered: 0, converted: 0 });
    target.entered += cell.entered;
    target.converted += cell.converted;
  }
  into.excluded += from.excluded;
  addAll(into.timeToConvert, from.timeToConvert);
  return into;
}

/** The report of a set of journeys (one per unit). */
export function buildFunnelReport(journeys: Iterable<Journey>, funnel: ParsedFunnel, options: ReportOptions): FunnelReport {
  return reportFromAggregate(aggregateJourneys(journeys, funnel.steps.length, options.timeZone ?? 'UTC'), funnel, options);
}

export function reportFromAggregate(aggregate: FunnelAggregate, funnel: ParsedFunnel, options: ReportOptions): FunnelReport {
  const stepCount = funnel.steps.length;
  if (aggregate.stepCount !== stepCount) throw new Error('the aggregate was built for another funnel');
  const entered = enteredFrom(aggregate.steps.map((step) => step.stopped));

  const steps: StepReport[] = funnel.steps.map((definition, k) => {
    const step = aggregate.steps[k];
    const isLast = k === stepCount - 1;
    const exited = isLast ? 0 : step.stopped;
    const timeToNext = isLast ? null : percentiles(step.timeToNext);
    return {
      name: definition.name,
      entered: entered[k],
      exited,
      in_flight: isLast ? 0 : countOpenAt(step.openUntil, options.now),
      exit_rate: ratio(exited, entered[k]),
      time_to_next_ms: timeToNext && { median: timeToNext.median, p90: timeToNext.p90 },
      engaged_ms_median: percentiles(step.engagedMs)?.median ?? null,
      scroll_median: percentiles(step.scroll)?.median ?? null,
      exits_to: isLast ? [] : topExits(step.exitsTo),
    };
  });

  const converted = entered[stepCount - 1];
  const revenue: Record<string, number> = {};
  for (const currency of Object.keys(aggregate.revenueCount).sort()) {
    revenue[currency] = (aggregate.revenueMicros[currency] ?? 0) / 1e6;
  }

  const ranked = (cells: Record<string, SourceCell>): SourceReport[] => Object.values(cells)
    .map((cell) => ({ ...cell, conversion_rate: ratio(cell.converted, cell.entered) }))
    .sort(
      (a, b) =>
        b.entered - a.entered ||
        b.converted - a.converted ||
        compareText(a.channel, b.channel) ||
        compareText(a.source, b.source) ||
        compareText(a.campaign ?? null, b.campaign ?? null),
    );

  const breakdown = options.breakdown ? breakdownReport(aggregate, funnel, options.breakdown, options.now) : [];

  return {
    name: funnel.name,
    window: funnel.window,
    steps,
    entered: entered[0],
    converted,
    conversion_rate: ratio(converted, entered[0]),
    close_rate: ratio(entered[stepCount - 1], entered[stepCount - 2]),
    revenue,
    sources: ranked(aggregate.sources),
    campaigns: ranked(aggregate.campaigns),
    breakdown_by: options.breakdown ?? null,
    breakdown,
    trend: trendReport(aggregate, options.range),
    excluded: aggregate.excluded,
    time_to_convert: timeToConvertReport(aggregate.timeToConvert, funnel.windowMs),
  };
}

/** Median, p90 and a histogram whose buckets end with the first edge at or past the window (the longest a conversion can take). */
function timeToConvertReport(values: Multiset, windowMs: number): TimeToConvert | null {
  const summary = percentiles(values);
  if (!summary) return null;
  const last = HISTOGRAM_EDGES_MS.findIndex((edge) => edge >= windowMs);
  const edges = HISTOGRAM_EDGES_MS.slice(0, (last < 0 ? HISTOGRAM_EDGES_MS.length - 1 : last) + 1);
  const histogram = edges.slice(0, -1).map((from, i) => ({ from_ms: from, to_ms: edges[i + 1], count: 0 }));
  for (const [value, count] of Object.entries(values)) {
    const ms = Number(value);
    // Buckets hold [from, to); the window's own end falls in the last one.
    const bucket = histogram.findIndex((b) => ms < b.to_ms);
    histogram[bucket < 0 ? histogram.length - 1 : bucket].count += count;
  }
  return { ...summary, histogram };
}

function applyJourney(aggregate: FunnelAggregate, journey: Journey, sign: 1 | -1): void {
  // An excluded entry counts only as excluded: in no step, source, breakdown or day.
  if (journey.excluded) {
    aggregate.excluded += sign;
    return;
  }
  const last = aggregate.stepCount - 1;
  const stop = journey.reached - 1;
  if (stop < 0 || stop > last) throw new Error(`journey reached ${journey.reached} of ${aggregate.stepCount} steps`);
  const converted = stop === last;

  const stopped = aggregate.steps[stop];
  stopped.stopped += sign;
  if (!converted) {
    changeTimes(stopped.openUntil, journey.openUntil, sign);
    bump(stopped.exitsTo, journey.exitPath ?? LEFT_SITE, sign);
  }
  for (let k = 0; k <= stop; k++) {
    const step = aggregate.steps[k];
    if (k < stop) bump(step.timeToNext, String(toSecond(journey.stepTimes[k + 1] - journey.stepTimes[k])), sign);
    const stage = journey.stages[k];
    if (stage?.engagedMs != null) bump(step.engagedMs, String(toSecond(stage.engagedMs)), sign);
    if (stage?.scroll != null) bump(step.scroll, String(stage.scroll), sign);
  }

  if (converted) bump(aggregate.timeToConvert, String(toSecond(journey.stepTimes[stop] - journey.stepTimes[0])), sign);

  if (converted && journey.revenue) {
    const { currency, amount } = journey.revenue;
    bump(aggregate.revenueMicros, currency, sign * Math.round(amount * 1e6));
    bump(aggregate.revenueCount, currency, sign);
    if (aggregate.revenueCount[currency] === undefined) delete aggregate.revenueMicros[currency];
  }

  const { channel, source, campaign } = journey.attribution;
  const countEntry = (cells: Record<string, SourceCell>, key: string, cell: SourceCell) => {
    const target = (cells[key] ??= cell);
    target.entered += sign;
    if (converted) target.converted += sign;
    if (target.entered === 0) delete cells[key];
  };
  const sourceKey = `${keyOf(channel)}\n${keyOf(source)}`;
  countEntry(aggregate.sources, sourceKey, { channel, source, entered: 0, converted: 0 });
  countEntry(aggregate.campaigns, `${sourceKey}\n${keyOf(campaign)}`, { channel, source, campaign, entered: 0, converted: 0 });

  for (const dimension of BREAKDOWN_DIMENSIONS) {
    const value = journey.attribution[dimension];
    const key = keyOf(value);
    const cells = aggregate.breakdowns[dimension];
    const cell = (cells[key] ??= emptyBreakdownCell(value, aggregate.stepCount));
    cell.stopped[stop] += sign;
    if (!converted) changeTimes(cell.openUntil[stop], journey.openUntil, sign);
    if (sign < 0 && cell.stopped.every((count) => count === 0)) delete cells[key];
  }

  const date = dayOf(journey.start, aggregate.timeZone);
  const day = (aggregate.days[date] ??= { entered: 0, converted: 0 });
  day.entered += sign;
  if (converted) day.converted += sign;
  if (day.entered === 0) delete aggregate.days[date];
}

function breakdownReport(
  aggregate: FunnelAggregate,
  funnel: ParsedFunnel,
  dimension: BreakdownDimension,
  now: number,
): BreakdownReport[] {
  const last = funnel.steps.length - 1;
  return Object.values(aggregate.breakdowns[dimension])
    .map((cell) => {
      const entered = enteredFrom(cell.stopped);
      const steps = funnel.steps.map((step, k) => {
        const exited = k === last ? 0 : cell.stopped[k];
        return {
          name: step.name,
          entered: entered[k],
          exited,
          in_flight: k === last ? 0 : countOpenAt(cell.openUntil[k], now),
          exit_rate: ratio(exited, entered[k]),
        };
      });
      return { key: cell.key, steps, converted: entered[last], conversion_rate: ratio(entered[last], entered[0]) };
    })
    .sort((a, b) => b.steps[0].entered - a.steps[0].entered || b.converted - a.converted || compareText(a.key, b.key));
}

function trendReport(aggregate: FunnelAggregate, range: ReportOptions['range']): TrendPoint[] {
  const dates = new Set(Object.keys(aggregate.days));
  if (range) {
    const from = Date.parse(`${range.from}T00:00:00Z`);
    const to = Date.parse(`${range.to}T00:00:00Z`);
    for (let ms = from; ms <= to; ms += DAY_MS) dates.add(utcDay(ms));
  }
  return [...dates].sort().map((date) => {
    const day = aggregate.days[date] ?? { entered: 0, converted: 0 };
    return { date, entered: day.entered, converted: day.converted, conversion_rate: ratio(day.converted, day.entered) };
  });
}

/** entered[k]: journeys that reached step k+1, i.e. stopped there or later. */
function enteredFrom(stopped: readonly number[]): number[] {
  const entered = new Array<number>(stopped.length);
  let running = 0;
  for (let k = stopped.length - 1; k >= 0; k--) entered[k] = running += stopped[k];
  return entered;
}

function emptyBreakdownCell(key: string | null, stepCount: number): BreakdownCell {
  return {
    key,
    stopped: new Array<number>(stepCount).fill(0),
    openUntil: Array.from({ length: stepCount }, () => []),
  };
}

/** A record key for a value that may be missing: `-` for null, `+value` otherwise. */
export function keyOf(value: string | null): string {
  return value === null ? '-' : `+${value}`;
}

function topExits(exitsTo: Record<string, number>): { path: string | null; count: number }[] {
  return Object.entries(exitsTo)
    .map(([path, count]) => ({ path: path === LEFT_SITE ? null : path, count }))
    .sort((a, b) => b.count - a.count || compareText(a.path, b.path))
    .slice(0, EXITS_TO_LIMIT);
}

/** Nearest-rank median and p90 of a multiset; null when it is empty. */
export function percentiles(values: Multiset): { median: number; p90: number } | null {
  const sorted = Object.entries(values)
    .map(([value, count]) => [Number(value), count] as const)
    .sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((sum, [, count]) => sum + count, 0);
  if (total === 0) return null;
  const at = (p: number) => {
    const rank = Math.max(1, Math.ceil((p / 100) * total));
    let seen = 0;
    for (const [value, count] of sorted) if ((seen += count) >= rank) return value;
    return sorted[sorted.length - 1][0];
  };
  return { median: at(50), p90: at(90) };
}

/** Journeys still open at `now`: a step exactly at the window's end still counts (journey.ts). */
function countOpenAt(openUntil: SortedTimes, now: number): number {
  return openUntil.length - lowerBound(openUntil, now);
}

/** Index of the first value >= `value` (the length when none). */
function lowerBound(sorted: SortedTimes, value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid] < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Adds (sign 1) or removes (sign -1) one occurrence of `value`, keeping the order. */
function changeTimes(sorted: SortedTimes, value: number, sign: 1 | -1): void {
  const at = lowerBound(sorted, value);
  if (sign > 0) sorted.splice(at, 0, value);
  else if (sorted[at] === value) sorted.splice(at, 1);
  else throw new Error('removing a journey that was never added');
}

function mergeTimesInto(into: SortedTimes, from: SortedTimes): void {
  const merged = into.concat(from).sort((a, b) => a - b);
  into.length = 0;
  for (const value of merged) into.push(value);
}

/**
 * Durations are kept to the second: a median to the millisecond tells a marketer nothing more,
 * and whole seconds keep the multisets (and so merging and sorting them) small.
 */
export function toSecond(ms: number): number {
  return Math.round(ms / 1000) * 1000;
}

export function bump(counts: Record<string, number>, key: string, by: number): void {
  const value = (counts[key] ?? 0) + by;
  if (value === 0) delete counts[key];
  else counts[key] = value;
}

function addAll(into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, count] of Object.entries(from)) bump(into, key, count);
}

function ratio(part: number, whole: number | undefined): number {
  return whole ? part / whole : 0;
}

/** Nulls sort last; text by code points, so the order does not depend on the locale. */
function compareText(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function dayFormatter(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

// Every UTC offset is a whole number of quarter hours, so a day never changes inside one.
const QUARTER_HOUR_MS = 900_000;
const dayCache = new Map<string, string>();

/** 'YYYY-MM-DD' of the day holding `ms` in the time zone. */
export function dayOf(ms: number, timeZone: string): string {
  const quarter = Math.floor(ms / QUARTER_HOUR_MS);
  const key = `${timeZone} ${quarter}`;
  let day = dayCache.get(key);
  if (day === undefined) {
    if (timeZone === 'UTC') day = utcDay(ms);
    else {
      const parts = dayFormatter(timeZone).formatToParts(ms);
      const part = (type: string) => parts.find((p) => p.type === type)!.value;
      day = `${part('year')}-${part('month')}-${part('day')}`;
    }
    if (dayCache.size > 100_000) dayCache.clear();
    dayCache.set(key, day);
  }
  return day;
}
