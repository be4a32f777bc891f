// The one collector (of those sharing a ClickHouse) that keeps the funnels and leads current:
// it holds the `materializer` lease, reads what every collector wrote since its last step (by
// order of arrival: events from `event_arrivals`, stage moves, lead settings, erasures), feeds it
// to the same FunnelRuntime and lead tracker SQLite runs at each commit, and writes what they
// make (funnels.ts, leads.ts), with its progress, in one INSERT. When it stops or dies, another
// collector claims the lease (lease.ts: within LEASE_TTL_MS) and takes over from the written
// state: final days and thresholds as persisted, the open windows matched again from their
// events, each site's leads restored from their rows.
import { randomUUID } from 'node:crypto';
import type { LiveInput } from '../../funnel/liveUnits.js';
import type { LeadOperation } from '../../leads/replay.js';
import { FunnelRuntime, funnelVersion } from '../funnelRuntime.js';
import type { StoredFunnel } from '../types.js';
import type { PersonRow } from '../../funnel/people.js';
import { funnelFromRow, type Row } from '../rows.js';
import { Lease } from './lease.js';
import { ClickHouseFunnelStorage, liveInputOf, PROGRESS, versionPrefix, type ClickHouseIo } from './funnels.js';
import { LeadMaterializer, leadEventOf, logOperations, type LeadEvent } from './leads.js';
import * as SQL from './sql.js';
import { groupBy } from '../../groupBy.js';

/** How often the materializer steps: an acknowledged event is in every report about this much later. */
export const MATERIALIZE_EVERY_MS = 1_000;
/** Events are read this long after their arrival stamp: an insert stamped earlier may still be on its way. */
const SETTLE_US = 500_000;
/**
 * Each step checks the arrivals of the last minute (their count per second), and takes those it
 * has not seen: an insert acknowledged late (its request took long) is still found. The client
 * times out well before.
 */
const SLACK_US = 60_000_000;
/** Arrivals taken in one step at most: catching up goes a step at a time. */
const STEP_LIMIT = 100_000;
/** Events read by key in one query at most. */
const COPIES_PER_READ = 1_000;
/** event_arrivals keeps this many days of arrivals. */
const KEEP_ARRIVAL_DAYS = 3;

export interface MaterializerOptions {
  io: ClickHouseIo;
  lease: Lease;
  onError: (error: unknown) => void;
}

export class Materializer {
  private readonly storage: ClickHouseFunnelStorage;
  private readonly leads: LeadMaterializer;
  private runtime: FunnelRuntime | null = null;
  /** Every event that arrived by this (µs) has been taken. */
  private processed = 0;
  /** Keys of the events (and log rows) taken in the last SLACK_US, with their arrival. */
  private readonly recent = new Map<string, number>();
  /**
   * Arrivals after this are read again each step (those in `recent` skipped): from the
   * take-over on, what the previous holder took is not taken twice.
   */
  private rereadFrom = 0;
  /** Arrivals read per second of arrival, over the last SLACK_US: what the counts of `lateArrivals` are compared with. */
  private readonly readPerSecond = new Map<number, number>();
  /** Where this holder took over (µs): the last holder's live days are current up to here. */
  private restoredFrom = 0;
  /** Funnels (`site \n id \n version \n`) whose published live people rows this holder has compared with its own. */
  private readonly peopleSeeded = new Set<string>();
  /** Funnels (`site \n id \n version \n`) marked stale (markStale). */
  private readonly stale = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private stepping: Promise<void> | null = null;
  private lastPartitionSweep = 0;
  readonly id = randomUUID();

  constructor(private readonly options: MaterializerOptions) {
    this.storage = new ClickHouseFunnelStorage(options.io);
    this.leads = new LeadMaterializer(options.io);
  }

  start(): void {
    this.timer = setInterval(() => void this.step().catch(this.options.onError), MATERIALIZE_EVERY_MS);
    this.timer.unref();
  }

  /** Whether this collector materializes now. */
  get active(): boolean {
    return this.runtime !== null;
  }

  /**
   * One step (or the one under way): take the lease or keep it, take what arrived, write what
   * changed. `through` (µs) takes what arrived up to then at once (a stage move just written by
   * this collector), instead of waiting for inserts stamped earlier to settle.
   */
  step(through?: number): Promise<void> {
    const run = async () => {
      await this.stepping?.catch(() => undefined);
      await this.stepOnce(through);
    };
    const next = run().finally(() => { if (this.stepping === next) this.stepping = null; });
    this.stepping = next;
    return next;
  }

  /** Waits until the runtime's background work is done (back-fills, restoring), and writes what it made. */
  async idle(): Promise<void> {
    await this.runtime?.idle();
    await this.step(this.processed);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.stepping?.catch(() => undefined);
    await this.runtime?.close();
    this.runtime = null;
    await this.options.lease.release().catch(() => undefined);
  }

  private async stepOnce(through?: number): Promise<void> {
    if (!(await this.options.lease.hold())) {
      // Another collector holds the lease: it materializes; this one only reads what it writes.
      if (this.runtime) {
        await this.runtime.close();
        this.runtime = null;
      }
      return;
    }
    if (!this.runtime) await this.takeOver();
    const runtime = this.runtime!;
    await this.syncFunnels(runtime);
    let upTo = through ?? Date.now() * 1000 - SETTLE_US;
    if (upTo > this.processed) {
      const before = this.processed;
      const late = await this.lateArrivals();
      const fresh = await this.arrivedBetween(this.processed, upTo);
      // Catching up (a first start, a long stop): this step takes the first STEP_LIMIT arrivals.
      if (fresh.length === STEP_LIMIT) upTo = fresh[fresh.length - 1].arrival - 1;
      const taken = fresh.filter((a) => a.arrival <= upTo);
      for (const a of taken) this.countRead(a.arrival);
      const events = await this.takeArrivals([...late, ...taken]);
      const logs = await this.takeLogs(upTo);
      await this.leads.apply([
        ...events.map((e) => ({ site: e.site, operation: { kind: 'event' as const, seq: e.live.arrival, event: e.lead } })),
        ...logs,
      ], before, (site, kind, key, value, deleted) => this.storage.stage(site, kind, key, value, deleted));
      for (const { site, live } of events) runtime.observe(site, live);
      // Erased people leave the open windows too (their events are being deleted by the collector asked).
      for (const { site, operation } of logs) {
        if (operation.kind === 'erase') runtime.forget(site, { visitors: new Set(operation.visitors) }, operation.visitors);
      }
      this.processed = upTo;
      this.forgetOldKeys(upTo);
    }
    runtime.tick(Infinity);
    await runtime.persisted();
    for (const change of runtime.takeLiveChanges()) this.storage.publishLive(change.site, change.id, change.version, change.days);
    await this.publishPeople(runtime);
    this.markStale(runtime);
    this.storage.publishProgress(this.processed);
    await this.storage.flush();
    await this.dropOldArrivals();
  }

  /**
   * Stages the live people rows that changed. The first time a funnel counts live under this
   * holder, what the table holds already is compared too: rows a previous holder left that no
   * longer exist are taken back.
   */
  private async publishPeople(runtime: FunnelRuntime): Promise<void> {
    const published = new Map<string, PersonRow[]>();
    for (const f of runtime.funnels()) {
      const key = `${f.site}\n${versionPrefix(f.id, f.version)}`;
      if (!f.ready || this.peopleSeeded.has(key)) continue;
      published.set(key, await this.storage.publishedPeople(f.site, f.id, f.version));
      this.peopleSeeded.add(key);
    }
    const changes = runtime.takePeopleChanges((site, id, version) => published.get(`${site}\n${versionPrefix(id, version)}`));
    for (const change of changes) this.storage.publishPeople(change.site, change.id, change.version, change.changes);
  }

  /** Starts from what the last holder wrote: its progress, the persisted state, the open windows matched from their events. */
  private async takeOver(): Promise<void> {
    const [progress] = await this.options.io.rows(SQL.materializedRows(PROGRESS.site, [PROGRESS.kind], PROGRESS.key, `${PROGRESS.key}\u0000`));
    // The first materializer of a database starts from its first event (a step at a time: STEP_LIMIT).
    this.processed = progress ? (JSON.parse(String(progress.latest_value)) as { arrival: number }).arrival : 0;
    this.recent.clear();
    this.readPerSecond.clear();
    this.rereadFrom = this.processed;
    this.leads.forgetAll();
    const runtime = new FunnelRuntime(this.storage, this.options.onError, false);
    await runtime.start(await this.savedFunnels(), this.processed);
    this.runtime = runtime;
    this.restoredFrom = this.processed;
    // Marks a holder before this one left while rebuilding stand: they say how far its live days go.
    this.stale.clear();
    this.peopleSeeded.clear();
    for (const site of new Set(runtime.funnels().map((f) => f.site))) {
      for (const key of await this.storage.staleFunnels(site)) this.stale.add(`${site}\n${key}`);
    }
  }

  /**
   * While a funnel does not count live (this holder rebuilding its open windows after taking
   * over, or back-filling it), its live days are the last holder's: its reports are marked
   * current only up to where that holder left off, not up to the progress row. The mark goes
   * once it counts live again.
   */
  private markStale(runtime: FunnelRuntime): void {
    const running = new Set<string>();
    for (const f of runtime.funnels()) {
      const key = `${f.site}\n${versionPrefix(f.id, f.version)}`;
      running.add(key);
      const marked = this.stale.has(key);
      if (!f.ready && !marked) {
        this.stale.add(key);
        this.storage.publishStale(f.site, f.id, f.version, this.restoredFrom);
      } else if (f.ready && marked) {
        this.stale.delete(key);
        this.storage.publishStale(f.site, f.id, f.version, null);
      }
    }
    for (const key of this.stale) if (!running.has(key)) this.stale.delete(key);
  }

  private async savedFunnels(): Promise<StoredFunnel[]> {
    return (await this.options.io.rows(SQL.allFunnels)).map(funnelFromRow);
  }

  /** Funnels saved, changed or deleted through any collector. */
  private async syncFunnels(runtime: FunnelRuntime): Promise<void> {
    const saved = await this.savedFunnels();
    const running = new Map(runtime.funnels().map((f) => [`${f.site}\n${f.id}`, f.version]));
    for (const stored of saved) {
      if (running.get(`${stored.site}\n${stored.id}`) !== funnelVersion(stored.definition)) await runtime.putFunnel(stored, false);
      running.delete(`${stored.site}\n${stored.id}`);
    }
    for (const key of running.keys()) {
      const [site, id] = key.split('\n');
      await runtime.deleteFunnel(site, id);
    }
  }

  /** The keys of the events that arrived in (after, upTo] (at most STEP_LIMIT), oldest first. */
  private async arrivedBetween(after: number, upTo: number, limit = STEP_LIMIT): Promise<Arrival[]> {
    return (await this.options.io.rows(SQL.arrivedBetween(after, upTo, limit)))
      .map((row) => ({ site: String(row.site), arrival: Number(row.arrival), ts: Number(row.ts), clientTs: Number(row.client_ts), dedupeKey: String(row.dedupe_key) }));
  }

  /**
   * Arrivals of the last SLACK_US (before `processed`) that became visible after their second
   * was read (an insert acknowledged late): found by comparing how many each whole second holds
   * now with how many were read, and read again only where they differ.
   */
  private async lateArrivals(): Promise<Arrival[]> {
    const fromSecond = Math.ceil(this.rereadAfter() / 1e6);
    const toSecond = Math.floor(this.processed / 1e6);
    for (const second of this.readPerSecond.keys()) if (second < fromSecond) this.readPerSecond.delete(second);
    if (toSecond <= fromSecond) return [];
    const late: Arrival[] = [];
    for (const row of await this.options.io.rows(SQL.arrivalsPerSecond(fromSecond, toSecond))) {
      const second = Number(row.second);
      if (Number(row.n) === (this.readPerSecond.get(second) ?? 0)) continue;
      const again = await this.arrivedBetween(second * 1e6 - 1, (second + 1) * 1e6 - 1, Number.MAX_SAFE_INTEGER);
      this.readPerSecond.set(second, again.length);
      late.push(...again);
    }
    return late;
  }

  private countRead(arrival: number): void {
    const second = Math.floor(arrival / 1e6);
    this.readPerSecond.set(second, (this.readPerSecond.get(second) ?? 0) + 1);
  }

  private uncountRead(arrival: number): void {
    const second = Math.floor(arrival / 1e6);
    const read = this.readPerSecond.get(second);
    if (read !== undefined) this.readPerSecond.set(second, read - 1);
  }

  /** Those events (not taken before), in order of arrival, each once (its first copy). */
  private async takeArrivals(keys: readonly Arrival[]): Promise<{ site: string; live: LiveInput; lead: LeadEvent }[]> {
    const arrived = keys.filter((a) => !this.recent.has(keyOf(a.site, a.clientTs, a.dedupeKey)));
    const taken: { site: string; live: LiveInput; lead: LeadEvent; key: string }[] = [];
    for (const [site, list] of groupBy(arrived, (a) => a.site)) {
      const arrivals = new Set(list.map((a) => a.arrival));
      // Read in slices of neighbouring times, each scanning only its own days (an import spans many).
      list.sort((a, b) => a.ts - b.ts);
      for (let i = 0; i < list.length; i += COPIES_PER_READ) {
        const slice = list.slice(i, i + COPIES_PER_READ);
        const first = new Map<string, { row: Row; arrival: number }>();
        // On a cluster an arrival can be read before its event: the replica read may have fetched
        // one part and not yet the other. Such an arrival counts as unread, so lateArrivals
        // reads it again (within SLACK_US) instead of losing the event.
        const seen = new Set<number>();
        for await (const rows of this.options.io.stream(SQL.copiesOf(site, slice[0].ts, slice[slice.length - 1].ts, slice))) {
          for (const row of rows) {
            const key = keyOf(site, Number(row.client_ts), String(row.dedupe_key));
            const arrival = Number(row.arrival);
            seen.add(arrival);
            const earliest = first.get(key);
            if (!earliest || arrival < earliest.arrival) first.set(key, { row, arrival });
          }
        }
        for (const a of slice) if (!seen.has(a.arrival)) this.uncountRead(a.arrival);
        // A copy of an event stored before (a retry through any collector) is not the event again.
        for (const [key, { row, arrival }] of first) {
          if (!arrivals.has(arrival)) continue;
          taken.push({ site, live: liveInputOf(row), lead: leadEventOf(site, row), key });
        }
      }
    }
    taken.sort((a, b) => a.live.arrival - b.live.arrival);
    const result = [];
    for (const entry of taken) {
      if (this.recent.has(entry.key)) continue;
      this.recent.set(entry.key, entry.live.arrival);
      result.push(entry);
    }
    return result;
  }

  /** The stage moves, lead settings and erasures written since the last step up to `upTo`, each once. */
  private async takeLogs(upTo: number): Promise<{ site: string; operation: LeadOperation<LeadEvent> }[]> {
    const after = this.rereadAfter();
    const [moves, settings, erasures] = await Promise.all([
      this.options.io.rows(SQL.movesBetween(after, upTo)),
      this.options.io.rows(SQL.settingsBetween(after, upTo)),
      this.options.io.rows(SQL.erasuresBetween(after, upTo)),
    ]);
    return logOperations(moves, settings, erasures).filter(({ site, operation }) => {
      const key = `${operation.kind}\n${site}\n${operation.seq}\n${operation.kind === 'move' ? operation.id : ''}`;
      if (this.recent.has(key)) return false;
      this.recent.set(key, operation.seq);
      return true;
    });
  }

  private rereadAfter(): number {
    return Math.max(this.rereadFrom, this.processed - SLACK_US, 0);
  }

  /** Keys are kept in about the order they arrived: the old ones are at the front. */
  private forgetOldKeys(upTo: number): void {
    for (const [key, arrival] of this.recent) {
      if (arrival >= upTo - 2 * SLACK_US) break;
      this.recent.delete(key);
    }
  }

  /** Drops the days of event_arrivals no step reads any more (once an hour). */
  private async dropOldArrivals(): Promise<void> {
    if (Date.now() - this.lastPartitionSweep < 3_600_000) return;
    this.lastPartitionSweep = Date.now();
    const before = this.processed - KEEP_ARRIVAL_DAYS * 86_400_000_000;
    for (const row of await this.options.io.rows(SQL.oldArrivalPartitions(before))) {
      await this.options.io.mutate('event_arrivals', SQL.dropArrivalPartition(String(row.partition))).catch(this.options.onError);
    }
  }
}

const keyOf = (site: string, clientTs: number, dedupeKey: string) => `${site}\n${clientTs}\n${dedupeKey}`;

interface Arrival {
  site: string;
  arrival: number;
  ts: number;
  clientTs: number;
  dedupeKey: string;
}
