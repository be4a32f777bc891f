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
import { joinsLead, type IdentityLink } from './identity.js';
import { defaultMatcher, matcherCount, type FunnelEvent, type StepMatcher } from './journey.js';
import { LiveUnits, type EventLoader, type LiveEvent, type LiveInput, type LiveUnit } from './liveUnits.js';
import { personRows, type PeopleCursor, type PersonRow } from './people.js';
import {
  addJourney, createFunnelAggregate, dayOf, mergeAggregates, removeJourney, type BreakdownDimension, type FunnelAggregate,
} from './report.js';
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
  /** The people rows of the entries made final (people.ts). */
  rows: PersonRow[];
}

/** A unit whose live people rows changed since the last `takeChangedPeople`: the keys of those published then, and its rows now. */
export interface PeopleChange {
  unit: string;
  before: readonly PeopleCursor[];
  now: readonly PersonRow[];
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
  /** Days whose live aggregate changed since `takeChangedDays`. */
  changedDays: Set<string>;
  chainEnds: Map<string, number>;
  /** Shape id → bitmask of the steps it matches. */
  masks: Map<number, number>;
  matches: StepMatcher;
  /** With `tracksPeople`: the keys of the units whose live entries may have changed since `takeChangedPeople`. */
  peopleChanged: Set<string>;
  /** With `tracksPeople`: unit key → the keys of its live rows as last published. */
  published: Map<string, PeopleCursor[]>;
  /**
   * Once people are asked for: unit key → its live rows, made when first asked for and dropped
   * when the unit changes; the whole cache goes when no one has asked for PEOPLE_CACHE_MS.
   */
  peopleCache: Map<string, PersonRow[]> | null;
  peopleAskedAt: number;
}

export type Observed = 'taken' | 'late';

/** The live people rows made for a list stay this long after it was last asked for. */
const PEOPLE_CACHE_MS = 10 * 60_000;

/** Units matched per read-back when a building funnel is swept. */
const SWEEP_BATCH = 256;

/** Events to forget (a person erased, or past retention): of these visitors, these arrivals, or before this time. */
export interface Erasure {
  visitors?: ReadonlySet<string>;
  arrivals?: ReadonlySet<number>;
  before?: number;
}

export class SiteFunnels {
  live: LiveUnits;
  private readonly links = new Map<string, IdentityLink>();
  private readonly funnels = new Map<string, FunnelState>();
  private readonly dirty = new Set<LiveUnit>();
  /** The site's newest event time. */
  watermark = -Infinity;
  /** Events older than this are not kept (no funnel's open entries read them). */
  private keepFrom = Infinity;

  /** `loader` reads stored events back by arrival: with it, idle units keep only their keys in memory (liveUnits.ts). */
  /**
   * `tracksPeople`: note which units' live people rows may have changed, for `takeChangedPeople`
   * (a store whose other collectors read them from a table; one that answers from memory, with
   * `livePeople`, needs not). The rows themselves are never kept: they are made when asked for.
   */
  constructor(
    readonly site: string,
    private readonly loader: EventLoader | null = null,
    private readonly residentUnits?: number,
    private readonly tracksPeople = false,
  ) {
    this.live = new LiveUnits(loader, residentUnits);
  }

  /** Forgets every funnel and the events held (links and watermark stay): the site is computed again from what is stored. */
  reset(): void {
    this.live = new LiveUnits(this.loader, this.residentUnits);
    this.funnels.clear();
    this.dirty.clear();
    this.keepFrom = Infinity;
  }

  /** Restores identity links made before (at start, or for a back-fill: every link of the site). */
  restoreLink(visitor: string, link: IdentityLink): void {
    if (!this.links.has(visitor)) this.links.set(visitor, link);
  }

  /** Replaces the identity links (a restore from a snapshot: the links made before it). */
  replaceLinks(links: Iterable<[string, IdentityLink]>): void {
    this.links.clear();
    for (const [visitor, link] of links) this.links.set(visitor, link);
  }

  linkOf(visitor: string): IdentityLink | undefined {
    return this.links.get(visitor);
  }

  /** Restores the watermark (at start: the time of the site's newest stored event). */
  raiseWatermark(ts: number): void {
    if (ts > this.watermark) this.watermark = ts;
  }

  /** Sets the watermark back (a restore from a snapshot: as it was then, before the events after it are observed again). */
  resetWatermark(ts: number): void {
    this.watermark = ts;
  }

  /**
   * Adds a funnel. A new one is `building`: nothing is counted live until `sweep` has matched
   * every unit (after the store has loaded the events from `keepFromFor(setup)` on).
   */
  addFunnel(setup: FunnelSetup): void {
    const { funnel } = setup;
    const masks = new Map<number, number>();
    const plain = defaultMatcher(funnel);
    const matches: StepMatcher = (step, event) => {
      const shape = (event as Partial<LiveEvent>).shape;
      if (shape === undefined) return plain(step, event);
      let mask = masks.get(shape);
      if (mask === undefined) {
        mask = 0;
        // Steps, then exclusions (at most 20 + 10 bits).
        for (let k = 0; k < matcherCount(funnel); k++) if (plain(k, event)) mask |= 1 << k;
        masks.set(shape, mask);
      }
      return ((mask >>> step) & 1) === 1;
    };
    this.funnels.set(setup.id, {
      id: setup.id, funnel, threshold: setup.threshold, ready: false, swept: new WeakSet(), sweepCursor: null,
      liveDays: new Map(), changedDays: new Set(), chainEnds: new Map(setup.chainEnds), masks, matches,
      peopleChanged: new Set(), published: new Map(), peopleCache: null, peopleAskedAt: 0,
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
    // A link is made whatever the event's age: the store has it too, and a back-fill reads it there.
    if (event.lead !== null && !this.links.has(event.visitor)) {
      this.link(event.visitor, { lead: event.lead, at: event.ts });
    }
    if (isLate(event.ts, this.watermark)) return 'late';
    if (event.ts > this.watermark) this.watermark = event.ts;
    if (this.funnels.size > 0 && event.ts >= this.keepFrom) this.keep(event);
    return 'taken';
  }

  /**
   * An event from the store, loaded for a funnel that is building (at start, or a new funnel
   * with a longer window): no lateness, no new links. It is older than what the funnels that
   * count live read, so only the building funnel's sweep counts it.
   */
  load(event: LiveInput): void {
    if (event.ts >= this.keepFrom) this.keep(event, false);
  }

  /** An event of history replayed in time order (a back-fill): counted as it comes, with the links restored before. */
  replay(event: LiveInput): void {
    if (event.ts > this.watermark) this.watermark = event.ts;
    if (event.ts >= this.keepFrom) this.keep(event);
  }

  /** A stored event by its key (restoring after a restart, with the live journeys restored from a snapshot). */
  restoreKey(visitor: string, ts: number, arrival: number): void {
    if (ts < this.keepFrom) return;
    const link = this.links.get(visitor);
    const unit = link && joinsLead({ ts }, link) ? this.live.unit(true, link.lead) : this.live.unit(false, visitor);
    this.live.addKey(unit, ts, arrival);
  }

  /** Restores a building funnel's live journeys (a snapshot taken at a clean stop); `markReady` once its units' keys are back. */
  restoreLive(id: string, liveDays: Map<string, FunnelAggregate>): void {
    const state = this.funnels.get(id);
    if (state && !state.ready) state.liveDays = liveDays;
  }

  markReady(id: string): void {
    const state = this.funnels.get(id);
    if (!state || state.ready) return;
    state.ready = true;
    state.sweepCursor = null;
    state.swept = new WeakSet();
  }

  /** Between pages of a load: idle units give their events back to the store. */
  offloadIdle(): void {
    this.live.offloadIdle();
  }

  private keep(event: LiveInput, isNew = true): void {
    const link = this.links.get(event.visitor);
    const unit = link && joinsLead(event, link) ? this.live.unit(true, link.lead) : this.live.unit(false, event.visitor);
    this.live.add(unit, event, isNew);
    if (isNew) this.dirty.add(unit);
  }

  /** A visitor named a lead: its events that now count under the lead move there. */
  private link(visitor: string, link: IdentityLink): void {
    this.links.set(visitor, link);
    const own = this.live.find(false, visitor);
    if (!own) return;
    const before = this.live.decode(own);
    const moving = before.map((event) => event.visitor === visitor && joinsLead(event, link));
    if (!moving.includes(true)) return;
    const lead = this.live.unit(true, link.lead);
    this.live.move(own, lead, (i) => moving[i]);
    this.dirty.add(lead);
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
      if (performance.now() > deadline) break;
    }
    this.live.offloadIdle();
    return this.dirty.size === 0;
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
    state.sweepCursor ??= this.live.units();
    for (;;) {
      // A few hundred units at a time: offloaded ones are read back in one go.
      const batch: LiveUnit[] = [];
      while (batch.length < SWEEP_BATCH) {
        const next = state.sweepCursor.next();
        if (next.done) break;
        if (!state.swept.has(next.value) && next.value.size > 0) batch.push(next.value);
      }
      if (batch.length === 0) break;
      this.live.decodeMany(batch).forEach((events, i) => {
        // Events still flagged new are added by the next refresh, as for every other funnel.
        const counted = events.filter((event) => !event.isNew);
        for (const entry of this.entriesOf(state, batch[i], counted)) this.count(state, entry, 1);
        this.notePeople(state, batch[i]);
        state.swept.add(batch[i]);
      });
      if (performance.now() > deadline) return false;
    }
    this.markReady(id);
    return true;
  }

  /**
   * Makes final the entries whose span closed before the threshold of the current watermark, for
   * every ready funnel; forgets the events no open entry reads any more. A back-fill, which reads
   * history in time order and so has every event before its watermark, passes the threshold.
   */
  advance(threshold = finalThreshold(this.watermark)): Finalized[] {
    this.refresh();
    const finalized: Finalized[] = [];
    for (const state of this.funnels.values()) {
      if (!state.ready || threshold <= state.threshold) continue;
      const bound = openingBound(threshold, state.funnel.windowMs);
      const result: Finalized = { id: state.id, threshold, days: new Map(), chainEnds: new Map(), rows: [] };
      for (const unit of this.live.units()) {
        if (unit.firstTs >= bound) continue;
        const events = this.live.decode(unit);
        let windowEnd = -Infinity;
        const final: Entry[] = [];
        for (const entry of this.entriesOf(state, unit, events)) {
          if (entry.opensAt >= bound) break;
          final.push(entry);
          this.count(state, entry, -1);
          const day = dayOf(entry.start, 'UTC');
          let aggregate = result.days.get(day);
          if (!aggregate) result.days.set(day, (aggregate = createFunnelAggregate(state.funnel.steps.length)));
          addJourney(aggregate, entry);
          windowEnd = entry.opensAt + state.funnel.windowMs;
        }
        if (final.length > 0) {
          result.rows.push(...personRows(unit.key, final, events, this.stepTest(state)));
          this.notePeople(state, unit);
        }
        // Only an event the open part still reads, inside that window, could be held back by it: any later event comes after it.
        if (events.some((event) => event.ts >= bound && event.ts <= windowEnd)) {
          state.chainEnds.set(unit.key, windowEnd);
          result.chainEnds.set(unit.key, windowEnd);
        }
      }
      if (state.peopleCache && state.peopleAskedAt < Date.now() - PEOPLE_CACHE_MS) state.peopleCache = null;
      // A chain end before the bound can no longer hold back an entry: every event read from now on is later.
      for (const [key, windowEnd] of state.chainEnds) if (windowEnd < bound) state.chainEnds.delete(key);
      state.threshold = threshold;
      finalized.push(result);
    }
    this.updateKeepFrom();
    for (const unit of [...this.live.units()]) {
      if (unit.firstTs >= this.keepFrom) continue;
      this.live.dropBefore(unit, this.keepFrom);
      if (unit.size === 0) {
        this.live.delete(unit);
        this.dirty.delete(unit);
      }
    }
    this.live.offloadIdle();
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

  /** The live days of a funnel that changed since the last call (null: the day holds no live journey any more). */
  takeChangedDays(id: string): Map<string, FunnelAggregate | null> {
    const state = this.funnels.get(id);
    if (!state) return new Map();
    this.refresh();
    const changed = new Map<string, FunnelAggregate | null>();
    for (const day of state.changedDays) changed.set(day, state.liveDays.get(day) ?? null);
    state.changedDays = new Set();
    return changed;
  }

  /**
   * The live people rows of a ready funnel whose step 1 falls in [fromMs, toMs), made now from the
   * events held (as a sweep matches them: a few hundred units at a time, offloaded ones read back
   * together). What it costs follows the open windows' traffic, and nothing is kept.
   */
  livePeople(id: string, range: { fromMs: number; toMs: number }, now = Date.now()): PersonRow[] {
    const state = this.funnels.get(id);
    if (!state?.ready) return [];
    this.refresh();
    const cache = (state.peopleCache ??= new Map());
    state.peopleAskedAt = now;
    const units = [...this.live.units()].filter((unit) => unit.size > 0 && unit.firstTs < range.toMs);
    const missing = units.filter((unit) => !cache.has(unit.key));
    for (let i = 0; i < missing.length; i += SWEEP_BATCH) {
      const batch = missing.slice(i, i + SWEEP_BATCH);
      this.live.decodeMany(batch).forEach((events, k) => {
        cache.set(batch[k].key, personRows(batch[k].key, this.entriesOf(state, batch[k], events), events, this.stepTest(state)));
      });
    }
    const rows: PersonRow[] = [];
    for (const unit of units) for (const row of cache.get(unit.key)!) if (row.start >= range.fromMs && row.start < range.toMs) rows.push(row);
    return rows;
  }

  /**
   * The units whose live people rows may have changed since the last call (with `tracksPeople`),
   * with their rows now and the keys published before. `published` seeds what a table holds
   * already (a new holder taking over), so that rows gone since are taken back.
   */
  takeChangedPeople(id: string, published?: readonly PeopleCursor[]): PeopleChange[] {
    const state = this.funnels.get(id);
    if (!state?.ready) return [];
    this.refresh();
    for (const key of published ?? []) {
      const keys = state.published.get(key.unit);
      if (keys) keys.push(key);
      else state.published.set(key.unit, [key]);
      state.peopleChanged.add(key.unit);
    }
    const changes: PeopleChange[] = [];
    const changed = [...state.peopleChanged].map((key) => this.live.find(key.startsWith('lead:'), key.slice(key.indexOf(':') + 1)) ?? key);
    state.peopleChanged = new Set();
    const held = changed.filter((unit): unit is LiveUnit => typeof unit !== 'string' && unit.size > 0);
    const rowsOf = new Map<string, PersonRow[]>();
    for (let i = 0; i < held.length; i += SWEEP_BATCH) {
      const batch = held.slice(i, i + SWEEP_BATCH);
      this.live.decodeMany(batch).forEach((events, k) => {
        rowsOf.set(batch[k].key, personRows(batch[k].key, this.entriesOf(state, batch[k], events), events, this.stepTest(state)));
      });
    }
    for (const unit of changed) {
      const key = typeof unit === 'string' ? unit : unit.key;
      const now = rowsOf.get(key) ?? [];
      const before = state.published.get(key) ?? [];
      if (now.length === 0 && before.length === 0) continue;
      changes.push({ unit: key, before, now });
      if (now.length > 0) state.published.set(key, now.map((row) => ({ start: row.start, unit: row.unit, opensAt: row.opensAt })));
      else state.published.delete(key);
    }
    return changes;
  }

  /** Whether nothing awaits matching and no funnel is building: the live days are then a snapshot. */
  get settled(): boolean {
    return this.dirty.size === 0 && [...this.funnels.values()].every((state) => state.ready);
  }

  /** The days (UTC) that hold live journeys of a funnel. */
  liveDaysOf(id: string): Map<string, FunnelAggregate> {
    return this.funnels.get(id)?.liveDays ?? new Map();
  }

  /**
   * Forgets events (a person erased, or past retention): the units holding any are matched
   * again without them. `unlink` forgets the identity links of those visitors too.
   */
  forget(erasure: Erasure, unlink: readonly string[] = []): void {
    this.refresh();
    const { visitors, arrivals, before: beforeTs } = erasure;
    const erased = (event: LiveEvent) =>
      (visitors?.has(event.visitor) ?? false) || (arrivals?.has(event.arrival) ?? false) || (beforeTs !== undefined && event.ts < beforeTs);
    for (const unit of [...this.live.units()]) {
      const candidate = (visitors !== undefined && unit.holdsVisitor(visitors)) || (beforeTs !== undefined && unit.firstTs < beforeTs)
        || (arrivals !== undefined && Array.from({ length: unit.size }, (_, i) => unit.arrival(i)).some((a) => arrivals.has(a)));
      if (!candidate) continue;
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
      this.notePeople(state, unit);
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
    state.changedDays.add(day);
    let aggregate = state.liveDays.get(day);
    if (!aggregate) state.liveDays.set(day, (aggregate = createFunnelAggregate(state.funnel.steps.length)));
    if (sign > 0) addJourney(aggregate, entry);
    else removeJourney(aggregate, entry);
    if (sign < 0 && aggregate.excluded === 0 && aggregate.steps.every((step) => step.stopped === 0)) state.liveDays.delete(day);
  }

  /** Whether an event matches any step of the funnel (a people row's factors leave those out). */
  private stepTest(state: FunnelState): (event: FunnelEvent) => boolean {
    const steps = state.funnel.steps.length;
    return (event) => {
      for (let k = 0; k < steps; k++) if (state.matches(k, event)) return true;
      return false;
    };
  }

  /** Notes a unit whose live entries may have changed: its cached rows go (and it is published again, when tracked). */
  private notePeople(state: FunnelState, unit: LiveUnit): void {
    state.peopleCache?.delete(unit.key);
    if (this.tracksPeople) state.peopleChanged.add(unit.key);
  }

  private updateKeepFrom(): void {
    let keepFrom = Infinity;
    for (const state of this.funnels.values()) keepFrom = Math.min(keepFrom, openingBound(state.threshold, state.funnel.windowMs));
    this.keepFrom = keepFrom;
  }
}

/** The span end of an entry as the horizon sees it (exported for tests and stores that explain it). */
export { spanEnd };
