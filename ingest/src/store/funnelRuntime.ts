// Runs the materialized funnels of a store (funnel/materializer.ts) against its persistence:
// restores them at start without reading history (the persisted days, plus the events of open
// windows, loaded in the background while ingestion goes on), back-fills a funnel that is new
// or changed, makes closed windows final as the watermark moves, and answers reports from the
// persisted days and the live part. Everything store-specific is behind `FunnelStorage`: the
// SQLite store runs this at every commit, the ClickHouse store in the collector that holds the
// materializer lease.
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { parseStoredFunnel, type FunnelDefinition, type ParsedFunnel } from '../funnel/definition.js';
import { finalThreshold, openingBound } from '../funnel/horizon.js';
import type { IdentityLink } from '../funnel/identity.js';
import type { EventLoader, LiveInput } from '../funnel/liveUnits.js';
import { SiteFunnels, type Erasure, type Finalized, type PeopleChange } from '../funnel/materializer.js';
import { composeReport } from '../funnel/preview.js';
import { factorDaysOf, type FactorAggregate, type PeopleCursor, type PersonRow } from '../funnel/people.js';
import { decodeAggregate, encodeAggregate } from '../funnel/aggregateCodec.js';
import { dayOf, type FunnelAggregate } from '../funnel/report.js';
import { DAY_MS } from '../time.js';
import type { ReportOptions, SavedFunnelReport, StoredFunnel, TimeRange } from './types.js';
import { groupBy } from '../groupBy.js';

/** What a store keeps of a funnel's progress. */
export interface PersistedFunnelState {
  /** The definition the persisted days were computed for (funnelVersion). */
  version: string;
  /** Entries whose span ends before this are in the persisted days. */
  threshold: number;
  /** False while a back-fill has not finished (it starts over after a restart). */
  complete: boolean;
}

export type BackfillStep =
  | { kind: 'days'; days: Map<string, FunnelAggregate>; rows: PersonRow[]; done: number }
  | { kind: 'end'; chainEnds: Map<string, number> };

/** The persistence a store gives its funnels. */
export interface FunnelStorage {
  /** The time of the site's newest stored event that had arrived by `arrivalBound` (-Infinity when none). */
  watermark(site: string, arrivalBound: number): Promise<number>;
  /** The site's identity links, as the events that had arrived by `arrivalBound` made them. */
  links(site: string, arrivalBound: number): Promise<Iterable<[visitor: string, link: IdentityLink]>>;
  /** Stored events of a site with fromMs ≤ ts < toMs and arrival ≤ arrivalBound, in (ts, arrival) order, a page at a time. */
  events(site: string, fromMs: number, toMs: number, arrivalBound: number): AsyncIterable<LiveInput[]>;
  state(site: string, id: string): Promise<PersistedFunnelState | null>;
  chainEnds(site: string, id: string): Promise<Map<string, number>>;
  /** The persisted aggregates of these days (missing days have no final entries). */
  finalDays(site: string, id: string, days: readonly string[]): Promise<Map<string, FunnelAggregate>>;
  /** Adds final entries to the persisted days, with the chain ends, and moves the threshold when given: at once. */
  addFinal(site: string, id: string, part: FinalPart): Promise<void>;
  /** Forgets what was computed for a funnel: it starts over for this version, final up to `threshold` once back-filled. */
  resetFunnel(site: string, id: string, version: string, threshold: number): Promise<void>;
  markComplete(site: string, id: string): Promise<void>;
  /** A back-fill's progress (0..1), for stores whose other collectors report it. */
  progress?(site: string, id: string, done: number): void;
  /** The funnel is about to be computed again (old history arrived): its report is partial until then. */
  rebuilding?(site: string, id: string): void;
  deleteFunnel(site: string, id: string): Promise<void>;
  /** The keys (ts, arrival, visitor) of stored events, paged as `events` pages them. */
  keys(site: string, fromMs: number, toMs: number, arrivalBound: number): AsyncIterable<[ts: number, arrival: number, visitor: string][]>;
  /** Keeps a site's live journeys (a snapshot), replacing the one before. */
  saveSnapshot(site: string, snapshot: string): Promise<void>;
  /** A site's snapshot, taken away (a start uses it once). */
  takeSnapshot(site: string): Promise<string | null>;
  /** The site's events that arrived after `afterArrival` (up to `arrivalBound`), in order of arrival, a page at a time. */
  eventsAfter(site: string, afterArrival: number, arrivalBound: number): AsyncIterable<LiveInput[]>;
  /** Whether the live people rows are published (`takePeopleChanges`) for other collectors, rather than read from memory (`livePeople`). */
  readonly publishesPeople?: boolean;
  /** Whether to keep a snapshot each time windows are made final (a store that restarts from it), not only at a clean stop. */
  readonly snapshotsWithSteps?: boolean;
  /** Reads stored events back by arrival, synchronously, when the store can do that cheaply (then idle units are not kept in memory). */
  loader?(): EventLoader;
  /** Runs a funnel over the site's stored history (arrival ≤ arrivalBound) up to `until`, away from the event loop where the store can. */
  backfill(site: string, funnel: ParsedFunnel, until: number, arrivalBound: number, signal: AbortSignal): AsyncIterable<BackfillStep>;
}

/** Entries made final, to add to a funnel's persisted days. */
export interface FinalPart {
  days: Map<string, FunnelAggregate>;
  /** The people rows of the entries made final. */
  rows: readonly PersonRow[];
  /** Their factors, per day of step 1 (to merge into the persisted day's). */
  factors: Map<string, FactorAggregate>;
  chainEnds: ReadonlyMap<string, number>;
  /** The new threshold (null: unchanged, as while back-filling). */
  threshold: number | null;
  /** Chain ends before this can be forgotten: no entry opens that early any more. */
  chainEndsBefore: number | null;
}

/**
 * What the persisted aggregates hold, beyond the definition: raised when they gain a field
 * (2: `excluded` and `timeToConvert`), so every funnel is computed again over history once, in
 * the background, rather than report days without it.
 */
export const AGGREGATE_FORMAT = 2;

/** The version of a definition: the persisted days belong to it, and a changed definition starts over. */
export function funnelVersion(definition: FunnelDefinition): string {
  return createHash('sha256').update(`${JSON.stringify(definition)}\nformat ${AGGREGATE_FORMAT}`).digest('base64url').slice(0, 16);
}

/** Late events wait this long for the rest of their import before the site's funnels are computed again. */
const REBUILD_DELAY_MS = 1_000;
/** Saving a funnel waits this long for its back-fill before answering. */
const PUT_WAIT_MS = 3_000;
/** A report waited this long for the live state after a start, then is refused (503). */
export const WARM_WAIT_MS = 10_000;
/** The live state is made final at most this often (ms of watermark). */
const ADVANCE_STEP_MS = 60_000;
/** Slices of background work (loading, matching) keep the event loop free for ingestion. */
const SLICE_MS = 8;
/** How often changed units are matched and closed windows made final in the background. */
const TICK_MS = 1_000;

export class FunnelsWarmingUp extends Error {
  constructor(readonly done: number) {
    super('the funnels are being restored after a restart; retry in a moment');
  }
}

type Phase = 'restoring' | 'backfilling' | 'sweeping' | 'ready';

/**
 * A site's live journeys as they were once every event up to `arrival` was matched, with each
 * funnel's threshold (the persisted one at that moment). A start loads the keys of the events
 * it covers and matches only those that arrived after it.
 */
interface Snapshot {
  arrival: number;
  funnels: Record<string, { version: string; threshold: number | null; days: [string, string][] }>;
}

interface FunnelRun {
  id: string;
  funnel: ParsedFunnel;
  version: string;
  phase: Phase;
  /** Back-fill progress, 0..1. */
  done: number;
  ready: Promise<void>;
  markReady: () => void;
}

interface SiteRun {
  site: string;
  funnels: SiteFunnels;
  runs: Map<string, FunnelRun>;
  /** Every stored event with ts ≥ heldFrom (that arrived before now) is in `funnels`. */
  heldFrom: number;
  /** Loads of older events, one at a time. */
  loading: Promise<void>;
  /** Persistence of what became final, in order. */
  persisting: Promise<void>;
  rebuildTimer: NodeJS.Timeout | null;
  /** Incremented when the site is computed again: loads begun before stop. */
  generation: number;
  /** While the site is restored from a snapshot: the events that arrive meanwhile, observed once it is. */
  pending: LiveInput[] | null;
  restored: Promise<void>;
}

const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

const utcDayOf = (ms: number) => dayOf(ms, 'UTC');

function daysOf(range: TimeRange): string[] {
  const days: string[] = [];
  for (let ms = range.fromMs; ms < range.toMs; ms += DAY_MS) days.push(dayOf(ms, 'UTC'));
  return days;
}

export class FunnelRuntime {
  private readonly sites = new Map<string, SiteRun>();
  /** The highest arrival observed: every stored event up to it has been offered to `observe`. */
  private lastArrival = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly jobs = new Set<Promise<unknown>>();
  private readonly stopping = new AbortController();

  constructor(
    private readonly storage: FunnelStorage,
    private readonly onError: (error: unknown) => void,
    /** Whether the runtime runs its own background tick (a caller that drives `tick` itself passes false). */
    private readonly ownTimer = true,
  ) {
    // Every back-fill under way listens for the stop: as many as there are funnels being built.
    setMaxListeners(0, this.stopping.signal);
  }

  /**
   * Restores the saved funnels. Returns once each site's state is read (no history); the events
   * of open windows load in the background, and reports wait for them (WARM_WAIT_MS).
   */
  async start(funnels: readonly StoredFunnel[], lastArrival: number): Promise<void> {
    this.lastArrival = Math.max(this.lastArrival, lastArrival);
    for (const [site, list] of groupBy(funnels, (funnel) => funnel.site)) {
      const run = await this.siteRun(site);
      // A snapshot holds the live journeys: the events of open windows then only need their keys
      // back, and those that arrived after it matching.
      const text = await this.storage.takeSnapshot(site);
      const snapshot = text === null ? null : (JSON.parse(text) as Snapshot);
      if (!(await this.restoreSnapshot(run, list, snapshot !== null && snapshot.arrival <= this.lastArrival ? snapshot : null))) {
        for (const stored of list) await this.activate(run, stored, 'restore');
      }
    }
    if (this.ownTimer) {
      this.timer = setInterval(() => this.tick(), TICK_MS);
      this.timer.unref();
    }
  }

  /** A committed event (in order of arrival). Returns false when it is late: the site's funnels are then back-filled again. */
  observe(site: string, event: LiveInput): void {
    if (event.arrival > this.lastArrival) this.lastArrival = event.arrival;
    const run = this.sites.get(site);
    if (!run) {
      // A site without funnels keeps no events; its links and watermark are read when it gets one.
      return;
    }
    if (run.pending) run.pending.push(event);
    else if (run.funnels.observe(event) === 'late') this.scheduleRebuild(run);
  }

  /**
   * A funnel saved (new, or with a new definition: it is back-filled; the same definition keeps
   * its state). Waits up to PUT_WAIT_MS for it to be ready: a small site's funnel reports in full
   * at once, a large one's report shows the back-fill's progress.
   */
  async putFunnel(stored: StoredFunnel, wait = true): Promise<void> {
    const run = await this.siteRun(stored.site);
    const current = run.runs.get(stored.id);
    if (current && current.version === funnelVersion(stored.definition)) return;
    await this.activate(run, stored, 'new');
    if (!wait) return;
    const state = run.runs.get(stored.id);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([state?.ready, new Promise<void>((resolve) => { timer = setTimeout(resolve, PUT_WAIT_MS); })]);
    clearTimeout(timer);
  }

  async deleteFunnel(site: string, id: string): Promise<void> {
    const run = this.sites.get(site);
    run?.runs.delete(id);
    run?.funnels.removeFunnel(id);
    await this.storage.deleteFunnel(site, id);
  }

  /** Events older than the open horizon were stored (an import): every funnel of the site is computed again. */
  rebuildSite(site: string): void {
    const run = this.sites.get(site);
    if (run) this.scheduleRebuild(run, 0);
  }

  /** The report of a saved funnel; null when the site has no such funnel. */
  async report(site: string, id: string, range: TimeRange, options: ReportOptions): Promise<SavedFunnelReport | null> {
    const run = this.sites.get(site);
    const funnel = run?.runs.get(id);
    if (!run || !funnel) return null;
    let waitedMs = 0;
    if (funnel.phase === 'restoring' || funnel.phase === 'sweeping') {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), WARM_WAIT_MS); });
      const outcome = await Promise.race([funnel.ready.then(() => 'ready' as const), timeout]);
      clearTimeout(timer);
      if (outcome === 'timeout') throw new FunnelsWarmingUp(funnel.done);
      waitedMs = Date.now() - started;
    }
    const parts = [...(await this.storage.finalDays(site, id, daysOf(range))).values()];
    const ready = funnel.phase === 'ready';
    // The report is as of now, not of the request's arrival, when it had to wait.
    const now = options.now + waitedMs;
    if (ready) parts.push(run.funnels.liveAggregate(id, range, { openAt: now, only: options.breakdown ?? null })!);
    // Old history just stored (an import) is not counted until the back-fill about to start: partial.
    const rebuilding = run.rebuildTimer !== null;
    return {
      ...composeReport(funnel.funnel, parts, range, { ...options, now }),
      fresh_until: ready && !rebuilding ? now : null,
      backfill: funnel.phase === 'backfilling' || rebuilding ? { done: rebuilding ? 0 : funnel.done } : null,
    };
  }

  /**
   * The live people rows of a saved funnel whose step 1 falls in the range (the persisted ones are
   * the store's); none while it does not count live yet (its report says it is partial); null
   * when the site has no such funnel.
   */
  livePeople(site: string, id: string, range: TimeRange): Iterable<PersonRow> | null {
    const run = this.sites.get(site);
    const funnel = run?.runs.get(id);
    if (!run || !funnel) return null;
    return funnel.phase === 'ready' ? run.funnels.livePeople(id, range) : [];
  }

  /**
   * Forgets erased events from the live state, before the store deletes them (an idle unit's
   * events are read back to match it without them); the persisted days keep their anonymous counts.
   */
  forget(site: string, erasure: Erasure, unlink: readonly string[] = []): void {
    this.sites.get(site)?.funnels.forget(erasure, unlink);
  }

  /**
   * Resolves once no background work is left (loading, back-fills, matching), and closed windows
   * are made final and persisted: for tests and benchmarks.
   */
  async idle(): Promise<void> {
    for (const run of this.sites.values()) {
      if (!run.rebuildTimer) continue;
      clearTimeout(run.rebuildTimer);
      run.rebuildTimer = null;
      this.rebuild(run);
    }
    while (this.jobs.size > 0) await Promise.allSettled([...this.jobs]);
    for (const run of this.sites.values()) for (const funnel of run.runs.values()) await funnel.ready;
    await this.advance();
  }

  /** Whether every funnel of every site counts live (not restoring or back-filling). */
  get warm(): boolean {
    return [...this.sites.values()].every((run) => [...run.runs.values()].every((f) => f.phase === 'ready'));
  }

  /** Live events held, over all sites (for memory figures). */
  get liveEvents(): number {
    let n = 0;
    for (const run of this.sites.values()) n += run.funnels.live.events;
    return n;
  }

  /** Makes closed windows final on every site now (tests; the timer does it as the watermark moves). */
  async advance(): Promise<void> {
    for (const run of this.sites.values()) this.advanceSite(run, 0);
    for (const run of this.sites.values()) await run.persisting;
  }

  /** Stops the background work; at a clean stop, keeps a snapshot of the live journeys for a fast start. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopping.abort();
    if (this.timer) clearInterval(this.timer);
    let clean = true;
    for (const run of this.sites.values()) {
      if (run.rebuildTimer) clearTimeout(run.rebuildTimer);
      if (run.rebuildTimer || ![...run.runs.values()].every((f) => f.phase === 'ready')) clean = false;
    }
    await Promise.allSettled([...this.jobs]);
    for (const run of this.sites.values()) await run.persisting.catch(() => { clean = false; });
    if (!clean) return;
    for (const run of this.sites.values()) {
      run.funnels.refresh();
      await this.storage.saveSnapshot(run.site, this.snapshotOf(run));
    }
  }

  /** The site's live journeys now (every changed unit matched first). */
  private snapshotOf(run: SiteRun): string {
    const funnels: Snapshot['funnels'] = {};
    for (const state of run.runs.values()) {
      funnels[state.id] = {
        version: state.version,
        threshold: run.funnels.thresholdOf(state.id) ?? -Infinity,
        days: [...run.funnels.liveDaysOf(state.id)].map(([day, aggregate]) => [day, encodeAggregate(aggregate)]),
      };
    }
    return JSON.stringify({ arrival: this.lastArrival, funnels } satisfies Snapshot);
  }

  /**
   * Brings a site's funnels back from a snapshot, when it holds every one of them as persisted;
   * returns false when it cannot (then they are restored from their events).
   */
  private async restoreSnapshot(run: SiteRun, list: readonly StoredFunnel[], snapshot: Snapshot | null): Promise<boolean> {
    if (!snapshot) return false;
    const setups: { stored: StoredFunnel; funnel: ParsedFunnel; entry: Snapshot['funnels'][string] }[] = [];
    for (const stored of list) {
      const entry = snapshot.funnels[stored.id];
      const persisted = await this.storage.state(run.site, stored.id);
      const version = funnelVersion(stored.definition);
      // JSON has no infinities: a threshold of none travels as null.
      const threshold = entry?.threshold ?? -Infinity;
      if (!entry || entry.version !== version || !persisted?.complete || persisted.version !== version || persisted.threshold !== threshold) {
        return false;
      }
      setups.push({ stored, funnel: parseStoredFunnel(stored.definition), entry });
    }
    const states: FunnelRun[] = [];
    for (const { stored, funnel, entry } of setups) {
      let markReady!: () => void;
      const state: FunnelRun = {
        id: stored.id, funnel, version: entry.version, phase: 'restoring', done: 0,
        ready: new Promise<void>((resolve) => { markReady = resolve; }), markReady,
      };
      run.runs.set(stored.id, state);
      states.push(state);
      run.funnels.addFunnel({ id: stored.id, funnel, threshold: entry.threshold ?? -Infinity, chainEnds: await this.storage.chainEnds(run.site, stored.id) });
      run.funnels.restoreLive(stored.id, new Map(entry.days.map(([day, text]) => [day, decodeAggregate(text)])));
    }
    const arrivalBound = this.lastArrival;
    // Events that arrive while this runs wait, and are observed after those the snapshot misses.
    run.pending = [];
    this.track((async () => {
      // Units are those of the snapshot's time: the links made after it are made again as their events are observed.
      run.funnels.replaceLinks(await this.storage.links(run.site, snapshot.arrival));
      run.funnels.resetWatermark(await this.storage.watermark(run.site, snapshot.arrival));
      const from = run.funnels.liveFrom;
      run.heldFrom = from;
      for await (const page of this.storage.keys(run.site, from, Infinity, snapshot.arrival)) {
        for (const [ts, arrival, visitor] of page) run.funnels.restoreKey(visitor, ts, arrival);
        if (page.length > 0) this.restoreProgress(run, from, page[page.length - 1][0]);
        await yieldToIo();
        if (this.closed) return;
      }
      for (const state of states) if (run.runs.get(state.id) === state) run.funnels.markReady(state.id);
      const after: LiveInput[] = [];
      for await (const page of this.storage.eventsAfter(run.site, snapshot.arrival, arrivalBound)) after.push(...page);
      const pending = [...after, ...(run.pending ?? [])];
      run.pending = null;
      for (const event of pending) if (run.funnels.observe(event) === 'late') this.scheduleRebuild(run);
      for (const state of states) {
        if (run.runs.get(state.id) !== state) continue;
        state.phase = 'ready';
        state.done = 1;
        state.markReady();
      }
    })());
    return true;
  }

  private async siteRun(site: string): Promise<SiteRun> {
    let run = this.sites.get(site);
    if (run) {
      await run.restored;
      return run;
    }
    const funnels = new SiteFunnels(site, this.storage.loader?.() ?? null, undefined, this.storage.publishesPeople ?? false);
    let restored!: () => void;
    run = {
      site, funnels, runs: new Map(), heldFrom: Infinity, loading: Promise.resolve(), persisting: Promise.resolve(),
      rebuildTimer: null, generation: 0, pending: null, restored: new Promise<void>((resolve) => { restored = resolve; }),
    };
    this.sites.set(site, run);
    try {
      funnels.raiseWatermark(await this.storage.watermark(site, this.lastArrival));
      for (const [visitor, link] of await this.storage.links(site, this.lastArrival)) funnels.restoreLink(visitor, link);
    } finally {
      restored();
    }
    return run;
  }

  /**
   * Brings a funnel up: restored from its persisted state when it matches the definition, else
   * back-filled from history; then its live part is matched from the events held.
   */
  private async activate(run: SiteRun, stored: StoredFunnel, mode: 'restore' | 'new' | 'rebuild'): Promise<void> {
    const funnel = parseStoredFunnel(stored.definition);
    const version = funnelVersion(stored.definition);
    const persisted = mode === 'restore' ? await this.storage.state(run.site, stored.id) : null;
    const resume = persisted !== null && persisted.version === version && persisted.complete;
    let markReady!: () => void;
    const state: FunnelRun = {
      id: stored.id, funnel, version, phase: resume ? 'restoring' : 'backfilling', done: 0,
      ready: new Promise<void>((resolve) => { markReady = resolve; }), markReady,
    };
    run.runs.set(stored.id, state);
    const threshold = resume ? persisted.threshold : finalThreshold(run.funnels.watermark);
    if (!resume) {
      // What was made final before is written first; then the reset takes it back.
      await run.persisting;
      await this.storage.resetFunnel(run.site, stored.id, version, threshold);
    }
    const chainEnds = resume ? await this.storage.chainEnds(run.site, stored.id) : new Map<string, number>();
    if (run.runs.get(stored.id) !== state) return;
    run.funnels.removeFunnel(stored.id);
    run.funnels.addFunnel({ id: stored.id, funnel, threshold, chainEnds });
    const arrivalBound = this.lastArrival;
    this.track((async () => {
      const loaded = this.loadHeld(run, arrivalBound);
      if (!resume) {
        const ends = await this.backfill(run, state, threshold, arrivalBound);
        if (ends === null) return;
        run.funnels.setChainEnds(stored.id, ends);
      }
      await loaded;
      if (run.runs.get(stored.id) !== state) return;
      // A back-filled funnel stays partial (its live part is not counted yet) until swept.
      if (resume) state.phase = 'sweeping';
      while (!run.funnels.sweep(stored.id, SLICE_MS)) {
        await yieldToIo();
        if (run.runs.get(stored.id) !== state || this.closed) return;
      }
      if (!resume) await this.storage.markComplete(run.site, stored.id);
      state.phase = 'ready';
      state.done = 1;
      state.markReady();
    })());
  }

  /** How far restoring funnels have read the open windows' events (their warm-up's `done`), from ts `from`. */
  private restoreProgress(run: SiteRun, from: number, ts: number): void {
    const share = Math.min(0.9, (0.9 * (ts - from)) / Math.max(1, Date.now() - from));
    for (const state of run.runs.values()) if (state.phase === 'restoring' && share > state.done) state.done = share;
  }

  /** Loads the stored events the site's funnels now read live but are not held yet (older ones, for a new or restored funnel). */
  private loadHeld(run: SiteRun, arrivalBound: number): Promise<void> {
    const generation = run.generation;
    run.loading = run.loading.then(async () => {
      const from = run.funnels.liveFrom;
      if (from >= run.heldFrom || generation !== run.generation) return;
      const to = run.heldFrom;
      run.heldFrom = from;
      for await (const page of this.storage.events(run.site, from, to, arrivalBound)) {
        if (this.closed || generation !== run.generation) return;
        for (const event of page) run.funnels.load(event);
        if (page.length > 0) this.restoreProgress(run, from, page[page.length - 1].ts);
        run.funnels.offloadIdle();
        await yieldToIo();
      }
    });
    return run.loading;
  }

  /** Persists a back-fill's days as they come; returns its chain ends (null when the funnel was replaced meanwhile). */
  private async backfill(run: SiteRun, state: FunnelRun, until: number, arrivalBound: number): Promise<Map<string, number> | null> {
    for await (const step of this.storage.backfill(run.site, state.funnel, until, arrivalBound, this.stopping.signal)) {
      if (run.runs.get(state.id) !== state || this.closed) return null;
      if (step.kind === 'end') return step.chainEnds;
      await this.storage.addFinal(run.site, state.id, {
        days: step.days, rows: step.rows, factors: factorDaysOf(step.rows, state.funnel.steps.length, utcDayOf),
        chainEnds: new Map(), threshold: null, chainEndsBefore: null,
      });
      state.done = Math.min(0.99, step.done);
      this.storage.progress?.(run.site, state.id, state.done);
    }
    return null;
  }

  /** A rebuild waits REBUILD_DELAY_MS after the late event that calls for it: an import brings many. */
  private scheduleRebuild(run: SiteRun, delayMs = REBUILD_DELAY_MS): void {
    if (run.rebuildTimer || this.closed) return;
    for (const state of run.runs.values()) this.storage.rebuilding?.(run.site, state.id);
    run.rebuildTimer = setTimeout(() => {
      run.rebuildTimer = null;
      this.rebuild(run);
    }, delayMs);
  }

  /** Computes every funnel of the site again: back-filled from history, the open windows' events read again (the late ones among them). */
  private rebuild(run: SiteRun): void {
    const states = [...run.runs.values()];
    run.generation++;
    run.funnels.reset();
    run.heldFrom = Infinity;
    for (const state of states) {
      this.track(this.activate(run, { site: run.site, id: state.id, definition: state.funnel.definition, createdAt: 0, updatedAt: 0 }, 'rebuild'));
    }
  }

  /**
   * The background tick: match changed units (a slice of them, or all with no budget), make
   * closed windows final once the watermark has moved ADVANCE_STEP_MS.
   */
  tick(budgetMs = SLICE_MS): void {
    for (const run of this.sites.values()) {
      run.funnels.refresh(budgetMs);
      this.advanceSite(run, ADVANCE_STEP_MS);
    }
  }

  /** Waits until what became final is persisted. */
  async persisted(): Promise<void> {
    for (const run of this.sites.values()) await run.persisting;
  }

  /** The live days that changed since the last call, of the funnels that count live (null: a day now empty). */
  takeLiveChanges(): { site: string; id: string; version: string; days: Map<string, FunnelAggregate | null> }[] {
    const changes = [];
    for (const run of this.sites.values()) {
      for (const state of run.runs.values()) {
        if (state.phase !== 'ready') continue;
        const days = run.funnels.takeChangedDays(state.id);
        if (days.size > 0) changes.push({ site: run.site, id: state.id, version: state.version, days });
      }
    }
    return changes;
  }

  /** The live people rows that changed since the last call, of the funnels that count live (`published`: what a table holds already, for a new holder). */
  takePeopleChanges(published?: (site: string, id: string, version: string) => readonly PeopleCursor[] | undefined): { site: string; id: string; version: string; changes: PeopleChange[] }[] {
    const out = [];
    for (const run of this.sites.values()) {
      for (const state of run.runs.values()) {
        if (state.phase !== 'ready') continue;
        const changes = run.funnels.takeChangedPeople(state.id, published?.(run.site, state.id, state.version));
        if (changes.length > 0) out.push({ site: run.site, id: state.id, version: state.version, changes });
      }
    }
    return out;
  }

  /** The saved funnels it runs: site, id, definition version, and whether it counts live (not restoring or back-filling). */
  funnels(): { site: string; id: string; version: string; ready: boolean }[] {
    return [...this.sites.values()].flatMap((run) => [...run.runs.values()].map((f) => ({ site: run.site, id: f.id, version: f.version, ready: f.phase === 'ready' })));
  }

  private advanceSite(run: SiteRun, minStep: number): void {
    const thresholds = [...run.runs.values()].filter((f) => f.phase === 'ready').map((f) => run.funnels.thresholdOf(f.id) ?? Infinity);
    if (thresholds.length === 0 || finalThreshold(run.funnels.watermark) - Math.min(...thresholds) < minStep) return;
    const finalized = run.funnels.advance().map((f) => ({ ...f, run: run.runs.get(f.id) }));
    run.heldFrom = Math.max(run.heldFrom, run.funnels.liveFrom);
    if (finalized.length === 0) return;
    // A snapshot as the live state is now, written once what was made final is: a start (after a
    // crash too) restores from it and matches only what arrived since.
    const snapshot = this.storage.snapshotsWithSteps && !run.rebuildTimer && [...run.runs.values()].every((f) => f.phase === 'ready')
      ? this.snapshotOf(run) : null;
    run.persisting = run.persisting.then(async () => {
      await this.persist(run, finalized);
      if (snapshot !== null) await this.storage.saveSnapshot(run.site, snapshot);
    }).catch(this.onError);
  }

  private async persist(run: SiteRun, finalized: (Finalized & { run: FunnelRun | undefined })[]): Promise<void> {
    for (const f of finalized) {
      // A funnel computed again since (a new definition, old history imported) starts from what it persists itself.
      if (f.run === undefined || run.runs.get(f.id) !== f.run) continue;
      const windowMs = f.run.funnel.windowMs;
      await this.storage.addFinal(run.site, f.id, {
        days: f.days, rows: f.rows, factors: factorDaysOf(f.rows, f.run.funnel.steps.length, utcDayOf), chainEnds: f.chainEnds, threshold: f.threshold,
        chainEndsBefore: openingBound(f.threshold, windowMs),
      });
    }
  }

  private track(job: Promise<unknown>): void {
    const tracked = job.catch(this.onError).finally(() => this.jobs.delete(tracked));
    this.jobs.add(tracked);
  }
}
