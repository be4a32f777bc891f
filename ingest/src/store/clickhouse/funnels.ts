// Materialized funnels on ClickHouse. The collector that holds the materializer lease runs
// them (materializer.ts, through the FunnelRuntime SQLite runs too) and writes what they make:
// per funnel and definition version, its state, the day aggregates of its final entries, its
// live days and chain ends, all in the `materialized` table; every collector answers reports
// from those rows (`FunnelReports`), so none matches journeys at report time.
import type { ParsedFunnel } from '../../funnel/definition.js';
import type { IdentityLink } from '../../funnel/identity.js';
import type { LiveInput } from '../../funnel/liveUnits.js';
import { backfillFunnel } from '../../funnel/backfill.js';
import { composeReport } from '../../funnel/preview.js';
import { createFunnelAggregate, dayOf, mergeAggregates, type FunnelAggregate } from '../../funnel/report.js';
import { decodeAggregate, encodeAggregate } from '../../funnel/aggregateCodec.js';
import { funnelVersion, type BackfillStep, type FinalPart, type FunnelStorage, type PersistedFunnelState } from '../funnelRuntime.js';
import type { PeoplePage, PeopleQuery, ReportOptions, SavedFunnelReport, TimeRange } from '../types.js';
import type { PeopleChange } from '../../funnel/materializer.js';
import {
  addFactorAggregate, countFactors, createFactorAggregate, decodeFactorAggregate, emptyFactorCounts, encodeFactorAggregate, mergeFactorAggregates,
  peopleBounds, peoplePage, type CorrelationQuestion, type FactorAggregate, type FactorCounts, type PeopleCursor, type PersonRow,
} from '../../funnel/people.js';
import type { Row } from '../rows.js';
import { DAY_MS, HOUR_MS } from '../../time.js';
import * as SQL from './sql.js';

/** What the funnel code needs of the ClickHouse connection. */
export interface ClickHouseIo {
  rows(query: string): Promise<Row[]>;
  /** Rows of a large SELECT, a block at a time. */
  stream(query: string): AsyncIterable<Row[]>;
  insert(table: string, values: Row[]): Promise<void>;
  mutate(table: string, query: string): Promise<void>;
}

export type MaterializedKind =
  | 'funnel_state' | 'funnel_day' | 'funnel_live' | 'funnel_chain' | 'funnel_stale' | 'funnel_person' | 'funnel_person_live' | 'funnel_factor_day'
  | 'progress'
  | 'lead' | 'lead_event' | 'delivery' | 'delivery_cutoff' | 'move';

/** Keys of a funnel's rows: `funnel \n version \n` then the day or unit (the state has none). */
export const versionPrefix = (id: string, version: string) => `${id}\n${version}\n`;
const funnelPrefix = (id: string) => `${id}\n`;
/** The kinds of a funnel version's rows but its state (a rebuild takes them back). */
const FUNNEL_KINDS: MaterializedKind[] = ['funnel_day', 'funnel_live', 'funnel_chain', 'funnel_stale', 'funnel_person', 'funnel_person_live', 'funnel_factor_day'];

/** A people row's key: entry time (zero-padded, so keys sort as times do), unit, opening. */
const personKey = (prefix: string, row: PeopleCursor) => `${prefix}${startKey(row.start)}\n${row.unit}\n${row.opensAt}`;
const startKey = (ms: number) => String(Math.max(0, ms)).padStart(16, '0');
/** Just past every key that starts with `prefix`. */
const after = (prefix: string) => `${prefix}\uffff`;

/** The progress row: where the materializer has got to, for everyone's `fresh_until`. */
export const PROGRESS = { site: '', kind: 'progress' as const, key: 'funnels' };

interface StateValue {
  threshold: number | null;
  complete: boolean;
  done: number;
}

/** Events read in one slice of history at most (whole hours: an hour with more is one slice). */
const EVENTS_PER_SLICE = 200_000;

/**
 * A site's stored events with fromMs ≤ ts < toMs that had arrived by `arrivalBound`, as the
 * funnels read them: each event's first copy to arrive, in (ts, arrival) order, a slice of hours
 * at a time (SQL.eventsPerHour), so that ClickHouse never sorts or groups more than a slice.
 */
export async function* funnelEventPages(io: ClickHouseIo, site: string, fromMs: number, toMs: number, arrivalBound: number): AsyncIterable<LiveInput[]> {
  const hours = (await io.rows(SQL.eventsPerHour(site, fromMs, toMs, arrivalBound))).map((row) => ({ hour: Number(row.hour), n: Number(row.n) }));
  for (let i = 0; i < hours.length;) {
    let n = 0;
    let j = i;
    while (j < hours.length && (j === i || n + hours[j].n <= EVENTS_PER_SLICE)) n += hours[j++].n;
    const from = Math.max(fromMs, hours[i].hour * HOUR_MS);
    const to = j < hours.length ? hours[j].hour * HOUR_MS : toMs;
    i = j;
    const first = new Map((await io.rows(SQL.repeatedEvents(site, from, to, arrivalBound))).map((row) => [`${String(row.client_ts)}\n${String(row.dedupe_key)}`, Number(row.first)]));
    for await (const rows of io.stream(SQL.eventCopies(site, from, to, arrivalBound))) {
      const page: LiveInput[] = [];
      for (const row of rows) {
        const earliest = first.size === 0 ? undefined : first.get(`${String(row.client_ts)}\n${String(row.dedupe_key)}`);
        if (earliest === undefined || earliest === Number(row.arrival)) page.push(liveInputOf(row));
      }
      if (page.length > 0) yield page;
    }
  }
}

/** A row of SQL.eventCopies or SQL.copiesOf as the funnels read it (64-bit numbers arrive as strings). */
export function liveInputOf(r: Row): LiveInput {
  const text = (v: unknown) => (v === null ? null : String(v));
  const number = (v: unknown) => (v === null ? null : Number(v));
  return {
    ts: Number(r.ts), name: String(r.name), path: String(r.path), props: r.props === null ? null : (JSON.parse(String(r.props)) as LiveInput['props']),
    channel: String(r.channel), source: text(r.source), medium: text(r.medium), campaign: text(r.campaign), device: text(r.device),
    browser: text(r.browser), variant: text(r.variant), landing: String(r.landing), revenue_amount: number(r.revenue_amount),
    revenue_currency: text(r.revenue_currency), engaged_ms: number(r.engaged_ms), scroll: number(r.scroll), session: String(r.session),
    visitor: String(r.visitor), lead: text(r.lead), arrival: Number(r.arrival),
  };
}

export async function siteLinks(io: ClickHouseIo, site: string, arrivalBound: number): Promise<Map<string, IdentityLink>> {
  return new Map((await io.rows(SQL.siteLinks(site, arrivalBound))).map((row) => [String(row.visitor), { lead: String(row.first_lead), at: Number(row.first_at) }]));
}

/**
 * The materializer's persistence: what it makes is staged and written with `flush`, in one
 * INSERT per step, so a reader never sees entries made final without the threshold that says
 * so, nor the live days they left.
 */
export class ClickHouseFunnelStorage implements FunnelStorage {
  /** Other collectors read the live people rows from `materialized` (publishPeople). */
  readonly publishesPeople = true;
  private staged: Row[] = [];
  private lastSeq = 0;
  /** Each funnel's current version and state, as written (this collector is the only writer while it holds the lease). */
  private readonly states = new Map<string, { version: string; value: StateValue }>();
  private readonly finalCache = new Map<string, FunnelAggregate>();
  /** The final days' factor aggregates as written (`site \n key`), for the days this holder added to. */
  private readonly factorCache = new Map<string, FactorAggregate>();
  /** Versions rebuilt from nothing by this holder: their final days are all in `finalCache`, and
   * the rows stored before the rebuild (taken back by tombstones maybe not written yet) never read. */
  private readonly rebuilt = new Set<string>();
  /** The INSERT under way, if any: a reset waits for it so that no row it carries escapes the tombstones. */
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly io: ClickHouseIo) {}

  async watermark(site: string, arrivalBound: number): Promise<number> {
    const [row] = await this.io.rows(SQL.siteTimes(site, arrivalBound));
    return Number(row.n) === 0 ? -Infinity : Number(row.newest);
  }

  async links(site: string, arrivalBound: number): Promise<Iterable<[string, IdentityLink]>> {
    return siteLinks(this.io, site, arrivalBound);
  }

  events(site: string, fromMs: number, toMs: number, arrivalBound: number): AsyncIterable<LiveInput[]> {
    return funnelEventPages(this.io, site, fromMs, toMs, arrivalBound);
  }

  async *keys(site: string, fromMs: number, toMs: number, arrivalBound: number): AsyncIterable<[number, number, string][]> {
    for await (const page of this.events(site, fromMs, toMs, arrivalBound)) yield page.map((e) => [e.ts, e.arrival, e.visitor]);
  }

  /** No snapshots: a collector taking over matches the open windows from their events. */
  async saveSnapshot(): Promise<void> {}

  async takeSnapshot(): Promise<string | null> {
    return null;
  }

  async *eventsAfter(): AsyncIterable<LiveInput[]> {}

  async state(site: string, id: string): Promise<PersistedFunnelState | null> {
    const rows = await this.io.rows(SQL.materializedRows(site, ['funnel_state'], funnelPrefix(id), after(funnelPrefix(id))));
    const latest = rows.filter((row) => Number(row.latest_deleted) === 0).sort((a, b) => Number(b.latest_seq) - Number(a.latest_seq))[0];
    if (!latest) return null;
    const version = String(latest.key).slice(funnelPrefix(id).length, -1);
    const value = JSON.parse(String(latest.latest_value)) as StateValue;
    this.states.set(`${site}\n${id}`, { version, value });
    return { version, threshold: value.threshold ?? -Infinity, complete: value.complete };
  }

  async chainEnds(site: string, id: string): Promise<Map<string, number>> {
    const prefix = versionPrefix(id, this.versionOf(site, id));
    const rows = await this.io.rows(SQL.materializedRows(site, ['funnel_chain'], prefix, after(prefix)));
    return new Map(rows.filter((row) => Number(row.latest_deleted) === 0)
      .map((row) => [String(row.key).slice(prefix.length), Number(row.latest_value)]));
  }

  async finalDays(site: string, id: string, days: readonly string[]): Promise<Map<string, FunnelAggregate>> {
    const prefix = versionPrefix(id, this.versionOf(site, id));
    const missing = this.rebuilt.has(`${site}\n${prefix}`) ? [] : days.filter((day) => !this.finalCache.has(`${site}\n${prefix}${day}`));
    if (missing.length > 0) {
      const rows = await this.io.rows(SQL.materializedRows(site, ['funnel_day'], prefix + missing[0], after(prefix + missing[missing.length - 1])));
      for (const row of rows) {
        if (Number(row.latest_deleted) === 0) this.finalCache.set(`${site}\n${row.key}`, decodeAggregate(String(row.latest_value)));
      }
    }
    const result = new Map<string, FunnelAggregate>();
    for (const day of days) {
      const aggregate = this.finalCache.get(`${site}\n${prefix}${day}`);
      if (aggregate) result.set(day, aggregate);
    }
    return result;
  }

  async addFinal(site: string, id: string, part: FinalPart): Promise<void> {
    const version = this.versionOf(site, id);
    const prefix = versionPrefix(id, version);
    const current = await this.finalDays(site, id, [...part.days.keys()]);
    for (const [day, delta] of part.days) {
      const total = createFunnelAggregate(delta.stepCount);
      const before = current.get(day);
      if (before) mergeAggregates(total, before);
      mergeAggregates(total, delta);
      this.finalCache.set(`${site}\n${prefix}${day}`, total);
      this.stage(site, 'funnel_day', prefix + day, encodeAggregate(total));
    }
    for (const [unit, windowEnd] of part.chainEnds) this.stage(site, 'funnel_chain', prefix + unit, String(windowEnd));
    for (const row of part.rows) this.stage(site, 'funnel_person', personKey(prefix, row), JSON.stringify(row));
    await this.addFactors(site, prefix, part.factors);
    if (part.threshold !== null) this.putState(site, id, { threshold: Number.isFinite(part.threshold) ? part.threshold : null });
  }

  /** Adds final entries' factors to their days' aggregates (read once, then kept: this holder is their only writer). */
  private async addFactors(site: string, prefix: string, factors: ReadonlyMap<string, FactorAggregate>): Promise<void> {
    const key = (day: string) => `${site}\n${prefix}${day}`;
    const days = [...factors.keys()].sort();
    const missing = this.rebuilt.has(`${site}\n${prefix}`) ? [] : days.filter((day) => !this.factorCache.has(key(day)));
    if (missing.length > 0) {
      const rows = await this.io.rows(SQL.materializedRows(site, ['funnel_factor_day'], prefix + missing[0], after(prefix + missing[missing.length - 1])));
      for (const row of rows) {
        if (Number(row.latest_deleted) === 0) this.factorCache.set(`${site}\n${row.key}`, decodeFactorAggregate(String(row.latest_value)));
      }
    }
    for (const day of days) {
      const before = this.factorCache.get(key(day));
      const total = mergeFactorAggregates(createFactorAggregate(factors.get(day)!.stepCount), factors.get(day)!);
      if (before) mergeFactorAggregates(total, before);
      this.factorCache.set(key(day), total);
      this.stage(site, 'funnel_factor_day', prefix + day, encodeFactorAggregate(total));
    }
  }

  async resetFunnel(site: string, id: string, version: string, threshold: number): Promise<void> {
    const prefix = versionPrefix(id, version);
    // An INSERT under way lands first, so that the tombstones below cover every row it carries.
    await this.writing.catch(() => undefined);
    // Rows staged for it and not written yet (a back-fill this one replaces) are dropped...
    this.staged = this.staged.filter((row) => row.site !== site || !String(row.key).startsWith(funnelPrefix(id)) || !String(row.kind).startsWith('funnel_'));
    // ...and a rebuild of the same version starts from nothing: its rows written so far are taken back.
    const old = await this.io.rows(SQL.materializedRows(site, FUNNEL_KINDS, prefix, after(prefix)));
    for (const row of old) if (Number(row.latest_deleted) === 0) this.stage(site, String(row.kind) as MaterializedKind, String(row.key), '', true);
    for (const key of [...this.finalCache.keys()]) if (key.startsWith(`${site}\n${funnelPrefix(id)}`)) this.finalCache.delete(key);
    for (const key of [...this.factorCache.keys()]) if (key.startsWith(`${site}\n${funnelPrefix(id)}`)) this.factorCache.delete(key);
    this.rebuilt.add(`${site}\n${prefix}`);
    this.states.set(`${site}\n${id}`, { version, value: { threshold: Number.isFinite(threshold) ? threshold : null, complete: false, done: 0 } });
    this.putState(site, id, {});
    // Earlier versions' rows are no longer read: removed in the background.
    void this.io.mutate('materialized', SQL.deleteFunnelRows(site, funnelPrefix(id), prefix)).catch(() => undefined);
  }

  async markComplete(site: string, id: string): Promise<void> {
    this.putState(site, id, { complete: true, done: 1 });
  }

  progress(site: string, id: string, done: number): void {
    this.putState(site, id, { done });
  }

  rebuilding(site: string, id: string): void {
    this.putState(site, id, { complete: false, done: 0 });
  }

  async deleteFunnel(site: string, id: string): Promise<void> {
    this.states.delete(`${site}\n${id}`);
    await this.io.mutate('materialized', SQL.deleteFunnelRows(site, funnelPrefix(id), null));
  }

  async *backfill(site: string, funnel: ParsedFunnel, until: number, arrivalBound: number, signal: AbortSignal): AsyncIterable<BackfillStep> {
    const links = await siteLinks(this.io, site, arrivalBound);
    const [times] = await this.io.rows(SQL.siteTimes(site, arrivalBound));
    const start = Number(times.n) === 0 ? until : Number(times.oldest);
    // The history is read a slice at a time, and matched as it comes.
    const io = this.io;
    const events = (async function* () {
      for await (const page of funnelEventPages(io, site, start, until, arrivalBound)) {
        if (signal.aborted) return;
        yield* page;
      }
    })();
    const steps: BackfillStep[] = [];
    let wake: (() => void) | null = null;
    const push = (step: BackfillStep) => { steps.push(step); wake?.(); wake = null; };
    let failure: unknown = null;
    const running = backfillFunnel(events, funnel, {
      until, links,
      onProgress: (days, watermark, rows) => push({ kind: 'days', days, rows, done: until > start ? Math.max(0, Math.min(1, (watermark - start) / (until - start))) : 1 }),
    }).then((result) => push({ kind: 'end', chainEnds: result.chainEnds }), (error: unknown) => { failure = error; wake?.(); });
    for (;;) {
      const step = steps.shift();
      if (step) {
        yield step;
        if (step.kind === 'end') break;
        continue;
      }
      if (failure) throw failure;
      await new Promise<void>((resolve) => { wake = resolve; });
    }
    await running;
  }

  /** Stages the live days that changed (and takes back those now empty). */
  publishLive(site: string, id: string, version: string, days: ReadonlyMap<string, FunnelAggregate | null>): void {
    const prefix = versionPrefix(id, version);
    for (const [day, aggregate] of days) this.stage(site, 'funnel_live', prefix + day, aggregate ? encodeAggregate(aggregate) : '', aggregate === null);
  }

  /** Stages the live people rows of the units that changed (and takes back those gone). */
  publishPeople(site: string, id: string, version: string, changes: readonly PeopleChange[]): void {
    const prefix = versionPrefix(id, version);
    for (const change of changes) {
      const now = new Set(change.now.map((row) => personKey(prefix, row)));
      for (const row of change.before) if (!now.has(personKey(prefix, row))) this.stage(site, 'funnel_person_live', personKey(prefix, row), '', true);
      for (const row of change.now) this.stage(site, 'funnel_person_live', personKey(prefix, row), JSON.stringify(row));
    }
  }

  /** The live people rows a funnel's table holds (a new holder takes back those its own state no longer has). */
  async publishedPeople(site: string, id: string, version: string): Promise<PersonRow[]> {
    const prefix = versionPrefix(id, version);
    return personRowsOf(await this.io.rows(SQL.materializedRows(site, ['funnel_person_live'], prefix, after(prefix))));
  }

  /** Stages the progress row: every event that arrived by `arrival` is in the rows staged with it. */
  publishProgress(arrival: number): void {
    this.stage(PROGRESS.site, PROGRESS.kind, PROGRESS.key, JSON.stringify({ arrival }));
  }

  /**
   * Marks a funnel whose live days are not being published (a new holder rebuilding its open
   * windows) as current only up to `arrival`, whatever the progress row says; null clears it.
   */
  publishStale(site: string, id: string, version: string, arrival: number | null): void {
    this.stage(site, 'funnel_stale', versionPrefix(id, version), arrival === null ? '' : String(arrival), arrival === null);
  }

  /** The funnels of a site marked stale, by `id \n version \n` key. */
  async staleFunnels(site: string): Promise<Set<string>> {
    const rows = await this.io.rows(SQL.materializedRows(site, ['funnel_stale'], '', '\uffff'));
    return new Set(rows.filter((row) => Number(row.latest_deleted) === 0).map((row) => String(row.key)));
  }

  /** Writes what was staged, in one INSERT. */
  async flush(): Promise<void> {
    if (this.staged.length === 0) return;
    const rows = this.staged;
    this.staged = [];
    this.writing = this.io.insert('materialized', rows);
    await this.writing;
  }

  private putState(site: string, id: string, change: Partial<StateValue>): void {
    const key = `${site}\n${id}`;
    const current = this.states.get(key);
    if (!current) return;
    current.value = { ...current.value, ...change };
    this.stage(site, 'funnel_state', versionPrefix(id, current.version), JSON.stringify(current.value));
  }

  private versionOf(site: string, id: string): string {
    const state = this.states.get(`${site}\n${id}`);
    if (!state) throw new Error(`no state for funnel ${id} of ${site}`);
    return state.version;
  }

  /** Stages a row of `materialized` (the leads' rows are staged here too, to go in the same INSERT). */
  stage(site: string, kind: MaterializedKind, key: string, value: string, deleted = false): void {
    // Microseconds of this clock, never repeating: a later writer (a new lease holder) writes higher.
    this.lastSeq = Math.max(Date.now() * 1000, this.lastSeq + 1);
    this.staged.push({ site, kind, key, value, deleted: deleted ? 1 : 0, seq: this.lastSeq });
  }
}

function personRowsOf(rows: readonly Row[]): PersonRow[] {
  return rows.filter((row) => Number(row.latest_deleted) === 0).map((row) => JSON.parse(String(row.latest_value)) as PersonRow);
}

/** People lists and correlations from the materialized people rows (final and live), for any collector. */
export class FunnelPeople {
  constructor(private readonly io: ClickHouseIo) {}

  async page(site: string, id: string, version: string, range: TimeRange, query: PeopleQuery): Promise<PeoplePage> {
    const prefix = versionPrefix(id, version);
    // Just before the range's first key, else the cursor's row (the page starts after it).
    const afterKey = query.after === null ? `${prefix}${startKey(range.fromMs)}` : personKey(prefix, query.after);
    const { min, max, open } = peopleBounds(query);
    const filter = { min, max, open: open === null ? -1 : Number(open), now: query.now };
    const toKey = prefix + startKey(range.toMs);
    const found = new Map<string, PersonRow>();
    let from = query.after === null ? before(afterKey) : afterKey;
    // Candidates first (some version matches), then their latest versions: a live row changed
    // since may no longer match, and the next candidates are read until the page is full.
    for (;;) {
      const candidates = (await this.io.rows(SQL.peopleCandidates(site, from, toKey, filter, query.limit + 1))).map((row) => String(row.key));
      if (candidates.length > 0) {
        for (const row of await this.io.rows(SQL.latestPeople(site, candidates, filter))) found.set(String(row.key), JSON.parse(String(row.row)) as PersonRow);
      }
      if (candidates.length <= query.limit || found.size > query.limit) break;
      from = candidates[candidates.length - 1];
    }
    return peoplePage([[...found.values()]], query.after, query.limit);
  }

  /** The final days' factor aggregates, merged, and the live rows (the open windows: traffic-sized). */
  async factors(site: string, id: string, version: string, range: TimeRange, question: CorrelationQuestion): Promise<FactorCounts> {
    const prefix = versionPrefix(id, version);
    const [days, live] = await Promise.all([
      this.io.rows(SQL.materializedRows(site, ['funnel_factor_day'], prefix + dayOf(range.fromMs, 'UTC'), after(prefix + dayOf(range.toMs - DAY_MS, 'UTC')))),
      this.io.rows(SQL.materializedRows(site, ['funnel_person_live'], before(prefix + startKey(range.fromMs)), prefix + startKey(range.toMs))),
    ]);
    const counts = emptyFactorCounts();
    for (const row of days) if (Number(row.latest_deleted) === 0) addFactorAggregate(counts, decodeFactorAggregate(String(row.latest_value)), question);
    return countFactors(counts, personRowsOf(live), question);
  }
}

/** A key just before `key` (for a bound that includes it): its start key one lower. */
const before = (key: string) => key.slice(0, -1) + String.fromCharCode(key.charCodeAt(key.length - 1) - 1) + '\uffff';

/** Reports from the materialized rows, for any collector (cached per row version). */
export class FunnelReports {
  private readonly decoded = new Map<string, { seq: string; aggregate: FunnelAggregate }>();

  constructor(private readonly io: ClickHouseIo) {}

  async report(site: string, id: string, funnel: ParsedFunnel, range: TimeRange, options: ReportOptions): Promise<SavedFunnelReport> {
    const prefix = versionPrefix(id, funnelVersion(funnel.definition));
    const fromDay = dayOf(range.fromMs, 'UTC');
    const toDay = dayOf(range.toMs - DAY_MS, 'UTC');
    const [days, stateRows, progress] = await Promise.all([
      this.io.rows(SQL.materializedRows(site, ['funnel_day', 'funnel_live'], prefix + fromDay, after(prefix + toDay))),
      this.io.rows(SQL.materializedRows(site, ['funnel_state', 'funnel_stale'], prefix, `${prefix}\u0000`)),
      this.io.rows(SQL.materializedRows(PROGRESS.site, [PROGRESS.kind], PROGRESS.key, `${PROGRESS.key}\u0000`)),
    ]);
    const parts: FunnelAggregate[] = [];
    for (const row of days) {
      if (Number(row.latest_deleted) === 1) continue;
      const cacheKey = `${site}\n${row.kind}\n${row.key}`;
      let cached = this.decoded.get(cacheKey);
      if (!cached || cached.seq !== String(row.latest_seq)) {
        cached = { seq: String(row.latest_seq), aggregate: decodeAggregate(String(row.latest_value)) };
        this.decoded.set(cacheKey, cached);
        if (this.decoded.size > 5_000) this.decoded.delete(this.decoded.keys().next().value as string);
      }
      parts.push(cached.aggregate);
    }
    const current = (kind: MaterializedKind) => stateRows.find((row) => row.kind === kind && Number(row.latest_deleted) === 0);
    const stateRow = current('funnel_state');
    const state = stateRow ? (JSON.parse(String(stateRow.latest_value)) as StateValue) : null;
    const complete = state?.complete ?? false;
    const progressed = progress[0] ? (JSON.parse(String(progress[0].latest_value)) as { arrival: number }).arrival : null;
    // A funnel whose open windows a new holder is still rebuilding counts live only what its last holder published.
    const staleRow = current('funnel_stale');
    const processed = progressed !== null && staleRow ? Math.min(progressed, Number(staleRow.latest_value)) : progressed;
    return {
      ...composeReport(funnel, parts, range, options),
      fresh_until: complete && processed !== null ? Math.floor(processed / 1000) : null,
      backfill: complete ? null : { done: state?.done ?? 0 },
    };
  }
}
