// One site's funnels kept current as events arrive, with cost that follows traffic, not
// history (horizon.ts): the events of open windows stay in memory (liveUnits.ts), the journeys
// of open entries are added up per day in memory, and entries whose span has closed are handed
// to the store (`advance`) to be added to its persisted day aggregates. A report merges both.
//
// The same class serves every store: SQLite feeds it at each commit, the ClickHouse collector
// that holds the materializer lease feeds it what every collector wrote, and a back-fill feeds
// it a site's history in time order (backfill.ts). It does no I/O: what to persist comes back
// from `advance`.
import type { ParsedFunnel } from './definition.js';
import { matchEntries, spanEnd, type Entry } from './entries.js';
import { finalThreshold, isLate, openingBound } from './horizon.js';
import { joinsLead, leadUnit, unitOf, visitorUnit, type IdentityLink } from './identity.js';
import type { StepMatcher } from './journey.js';
import { LiveUnits, type LiveEvent, type LiveInput, type LiveUnit } from './liveUnits.js';
import {
  addJourney, createFunnelAggregate, dayOf, mergeAggregates, removeJourney, type BreakdownDimension, type FunnelAggregate,
} from './report.js';
import { stepMatches } from './definition.js';
import { DAY_MS } from '../time.js';

/** What a store restores of a funnel: its persisted progress. */
export interface FunnelSetup {
  id: string;
  funnel: ParsedFunnel;
  /** Entries whose span ends before this are in the store's day aggregates (-Infinity: none yet). */
  threshold: number;
  /** Unit key → end of the window of its last final entry (those that can still matter). */
  chainEnds: Map<string, number>;
}

/** Entries made final by `advance`: what the store adds to its day aggregates, with the new threshold. */
export interface Finalized {
  id: string;
  threshold: number;
  /** Day of step 1 → the aggregate of the entries made final (to merge into the persisted day). */
  days: Map<string, FunnelAggregate>;
  /** Units whose last final entry changed: the end of its window. */
  chainEnds: Map<string, number>;
}

interface FunnelState {
  id: string;
  funnel: ParsedFunnel;
  threshold: number;
  /** Building: the live part is being matched unit by unit (`sweep`); ready: every unit's journeys are in `liveDays`. */
  ready: boolean;
  /** While building: the units whose journeys are in `liveDays`. */
  swept: WeakSet<LiveUnit>;
  sweepCursor: Iterator<LiveUnit> | null;
  liveDays: Map<string, FunnelAggregate>;
  chainEnds: Map<string, number>;
  /** Shape id → bitmask of the steps it matches. */
  masks: Map<number, number>;
  matches: StepMatcher;
}

export type Observed = 'taken' | 'late';

export class SiteFunnels {
  readonly live = new LiveUnits();
  private readonly links = new Map<string, IdentityLink>();
  private readonly funnels = new Map<string, FunnelState>();
  private readonly dirty = new Set<LiveUnit>();
  /** The site's newest event time. */
  watermark = -Infinity;
  /** Events older than this are not kept (no funnel's open entries read them). */
  private keepFrom = Infinity;

  constructor(readonly site: string) {}

  /** Restores identity links made before (at start, or for a back-fill: every link of the site). */
  restoreLink(visitor: string, link: IdentityLink): void {
    if (!this.links.has(visitor)) this.links.set(visitor, link);
  }

  linkOf(visitor: string): IdentityLink | undefined {
    return this.links.get(visitor);
  }

  /** Restores the watermark (at start: the time of the site's newest stored event). */
  raiseWatermark(ts: number): void {
    if (ts > this.watermark) this.watermark = ts;
  }

  /**
   * Adds a funnel. A new one is `building`: nothing is counted live until `sweep` has matched
   * every unit (after the store has loaded the events from `keepFromFor(setup)` on).
   */
  addFunnel(setup: FunnelSetup): void {
    const { funnel } = setup;
    const masks = new Map<number, number>();
    const matches: StepMatcher = (step, event) => {
      const shape = (event as Partial<LiveEvent>).shape;
      if (shape === undefined) return stepMatches(funnel.steps[step], event);
      let mask = masks.get(shape);
      if (mask === undefined) {
        mask = 0;
        for (let k = 0; k < funnel.steps.length; k++) if (stepMatches(funnel.steps[k], event)) mask |= 1 << k;
        masks.set(shape, mask);
      }
      return ((mask >>> step) & 1) === 1;
    };
    this.funnels.set(setup.id, {
      id: setup.id, funnel, threshold: setup.threshold, ready: false, swept: new WeakSet(), sweepCursor: null,
      liveDays: new Map(), chainEnds: new Map(setup.chainEnds), masks, matches,
    });
    this.updateKeepFrom();
  }

  /** Sets where each unit's chain of entries resumes, for a building funnel (its back-fill's result). */
  setChainEnds(id: string, chainEnds: ReadonlyMap<string, number>): void {
    const state = this.funnels.get(id);
    if (!state || state.ready) return;
    state.chainEnds = new Map(chainEnds);
  }

  removeFunnel(id: string): void {
    this.funnels.delete(id);
    this.updateKeepFrom();
  }

  funnelIds(): string[] {
    return [...this.funnels.keys()];
  }

  isReady(id: string): boolean {
    return this.funnels.get(id)?.ready ?? false;
  }

  thresholdOf(id: string): number | undefined {
    return this.funnels.get(id)?.threshold;
  }

  /** The oldest event time the site's funnels read live: a store loads events from here at start. */
  get liveFrom(): number {
    return this.keepFrom;
  }

  /**
   * A committed event, in order of arrival. Late events (older than the open horizon: only an
   * import brings them) are not taken: the store back-fills the site's funnels instead.
   */
  observe(event: LiveInput): Observed {
    if (isLate(event.ts, this.watermark)) return 'late';
    if (event.ts > this.watermark) this.watermark = event.ts;
    if (event.lead !== null && !this.links.has(event.visitor)) {
      this.link(event.visitor, { lead: event.lead, at: event.ts });
    }
    if (this.funnels.size > 0 && event.ts >= this.keepFrom) this.keep(event);
    return 'taken';
  }

  /** An event from the store (loading at start, or for a new funnel): no lateness, no new links. */
  load(event: LiveInput): void {
    if (event.ts >= this.keepFrom) this.keep(event);
  }

  private keep(event: LiveInput): void {
    const unit = this.live.unit(unitOf(event, event.visitor, this.links.get(event.visitor)));
    this.live.add(unit, event);
    this.dirty.add(unit);
  }

  /** A visitor named a lead: its events that now count under the lead move there. */
  private link(visitor: string, link: IdentityLink): void {
    this.links.set(visitor, link);
    const own = this.live.units.get(visitorUnit(visitor));
    if (!own) return;
    const before = this.live.decode(own);
    const moving = before.map((event) => event.visitor === visitor && joinsLead(event, link));
    if (!moving.includes(true)) return;
    this.live.move(own, this.live.unit(leadUnit(link.lead)), (i) => moving[i]);
    this.dirty.add(this.live.unit(leadUnit(link.lead)));
    // The visitor's own journeys are matched again now, from what it held before the move.
    this.rematch(own, this.live.decode(own), before.filter((event) => !event.isNew));
    this.live.clearNew(own);
    this.dirty.delete(own);
    if (own.size === 0) this.live.delete(own);
  }

  /** Matches the units that changed; with a budget (ms), stops when it is spent. Returns whether all were done. */
  refresh(budgetMs = Infinity): boolean {
    const deadline = budgetMs === Infinity ? Infinity : performance.now() + budgetMs;
    for (const unit of this.dirty) {
      this.dirty.delete(unit);
      this.rematch(unit, this.live.decode(unit), null);
      this.live.clearNew(unit);
      if (performance.now() > deadline) return this.dirty.size === 0;
    }
    return true;
  }

  get pending(): number {
    return this.dirty.size;
  }

  /**
   * Matches a building funnel's units (with a budget); returns true once every unit is matched
   * and the funnel counts live.
   */
  sweep(id: string, budgetMs = Infinity): boolean {
    const state = this.funnels.get(id);
    if (!state) return true;
    if (state.ready) return true;
    const deadline = budgetMs === Infinity ? Infinity : performance.now() + budgetMs;
    state.sweepCursor ??= this.live.units.values();
    for (let next = state.sweepCursor.next(); !next.done; next = state.sweepCursor.next()) {
      const unit = next.value;
      if (state.swept.has(unit) || unit.size === 0) continue;
      // Events still flagged new are added by the next refresh, as for every other funnel.
      const counted = this.live.decode(unit).filter((event) => !event.isNew);
      for (const entry of this.entriesOf(state, unit, counted)) this.count(state, entry, 1);
      state.swept.add(unit);
      if (performance.now() > deadline) return false;
    }
    state.ready = true;
    state.sweepCursor = null;
    state.swept = new WeakSet();
    return true;
  }

  /**
   * Makes final the entries whose span closed before the threshold of the current watermark (or
   * `cap`, when lower), for every ready funnel; forgets the events no open entry reads any more.
   */
  advance(cap = Infinity): Finalized[] {
    this.refresh();
    const threshold = Math.min(finalThreshold(this.watermark), cap);
    const finalized: Finalized[] = [];
    for (const state of this.funnels.values()) {
      if (!state.ready || threshold <= state.threshold) continue;
      const bound = openingBound(threshold, state.funnel.windowMs);
      const result: Finalized = { id: state.id, threshold, days: new Map(), chainEnds: new Map() };
      for (const unit of this.live.units.values()) {
        if (unit.firstTs >= bound) continue;
        const entries = this.entriesOf(state, unit, this.live.decode(unit));
        for (const entry of entries) {
          if (entry.opensAt >= bound) break;
          this.count(state, entry, -1);
          const day = dayOf(entry.start, 'UTC');
          let aggregate = result.days.get(day);
          if (!aggregate) result.days.set(day, (aggregate = createFunnelAggregate(state.funnel.steps.length)));
          addJourney(aggregate, entry);
          const windowEnd = entry.opensAt + state.funnel.windowMs;
          state.chainEnds.set(unit.key, windowEnd);
          result.chainEnds.set(unit.key, windowEnd);
        }
      }
      // A chain end before the bound can no longer hold back an entry: every event read from now on is later.
      for (const [key, windowEnd] of state.chainEnds) if (windowEnd < bound) state.chainEnds.delete(key);
      state.threshold = threshold;
      finalized.push(result);
    }
    this.updateKeepFrom();
    for (const unit of [...this.live.units.values()]) {
      if (unit.firstTs >= this.keepFrom) continue;
      this.live.dropBefore(unit, this.keepFrom);
      if (unit.size === 0) {
        this.live.delete(unit);
        this.dirty.delete(unit);
      }
    }
    return finalized;
  }

  /** The live journeys of a funnel whose step 1 falls in [fromMs, toMs), merged as for a report. */
  liveAggregate(id: string, range: { fromMs: number; toMs: number }, options: { openAt?: number; only?: BreakdownDimension | null }): FunnelAggregate | null {
    const state = this.funnels.get(id);
    if (!state) return null;
    this.refresh();
    const merged = createFunnelAggregate(state.funnel.steps.length);
    for (let day = range.fromMs; day < range.toMs; day += DAY_MS) {
      const aggregate = state.liveDays.get(dayOf(day, 'UTC'));
      if (aggregate) mergeAggregates(merged, aggregate, options);
    }
    return merged;
  }

  /** Unit key → end of the window of its last final entry, for the units where it can still hold back an entry. */
  chainEndsOf(id: string): ReadonlyMap<string, number> {
    return this.funnels.get(id)?.chainEnds ?? new Map();
  }

  /** The days (UTC) that hold live journeys of a funnel. */
  liveDaysOf(id: string): Map<string, FunnelAggregate> {
    return this.funnels.get(id)?.liveDays ?? new Map();
  }

  /**
   * Forgets events (a person erased, or past retention): the units holding any are matched
   * again without them. `unlink` forgets the identity links of those visitors too.
   */
  forget(erased: (event: LiveEvent) => boolean, unlink: readonly string[] = []): void {
    this.refresh();
    for (const unit of [...this.live.units.values()]) {
      const before = this.live.decode(unit);
      const drop = before.map(erased);
      if (!drop.includes(true)) continue;
      this.live.remove(unit, (i) => drop[i]);
      this.rematch(unit, this.live.decode(unit), before);
      if (unit.size === 0) this.live.delete(unit);
    }
    for (const visitor of unlink) this.links.delete(visitor);
  }

  /** Counts a unit's journeys again: takes back those of `old` (default: its events not flagged new) and adds those of `current`. */
  private rematch(unit: LiveUnit, current: LiveEvent[], old: LiveEvent[] | null): void {
    for (const state of this.funnels.values()) {
      if (!state.ready && !state.swept.has(unit)) continue;
      const before = old ?? current.filter((event) => !event.isNew);
      if (before.length === current.length && old === null) continue;
      for (const entry of this.entriesOf(state, unit, before)) this.count(state, entry, -1);
      for (const entry of this.entriesOf(state, unit, current)) this.count(state, entry, 1);
    }
  }

  /** The unit's open entries into a funnel: from its opening bound, after its last final entry's window. */
  private entriesOf(state: FunnelState, unit: LiveUnit, events: readonly LiveEvent[]): Entry[] {
    const bound = openingBound(state.threshold, state.funnel.windowMs);
    let first = 0;
    while (first < events.length && events[first].ts < bound) first++;
    const input = first === 0 ? events : events.slice(first);
    if (input.length === 0) return [];
    return matchEntries(input, state.funnel, { after: state.chainEnds.get(unit.key), matches: state.matches });
  }

  private count(state: FunnelState, entry: Entry, sign: 1 | -1): void {
    const day = dayOf(entry.start, 'UTC');
    let aggregate = state.liveDays.get(day);
    if (!aggregate) state.liveDays.set(day, (aggregate = createFunnelAggregate(state.funnel.steps.length)));
    if (sign > 0) addJourney(aggregate, entry);
    else removeJourney(aggregate, entry);
    if (sign < 0 && aggregate.steps.every((step) => step.stopped === 0)) state.liveDays.delete(day);
  }

  private updateKeepFrom(): void {
    let keepFrom = Infinity;
    for (const state of this.funnels.values()) keepFrom = Math.min(keepFrom, openingBound(state.threshold, state.funnel.windowMs));
    this.keepFrom = keepFrom;
  }
}

/** The span end of an entry as the horizon sees it (exported for tests and stores that explain it). */
export { spanEnd };
