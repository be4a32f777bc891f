// The one collector (of those sharing a ClickHouse) that keeps the funnels current: it holds
// the `materializer` lease, reads what every collector wrote since its last step (by order of
// arrival, from `event_arrivals`), feeds it to the same FunnelRuntime SQLite runs at each
// commit, and writes what that makes (funnels.ts). When it stops or dies, another collector
// claims the lease (lease.ts: within LEASE_TTL_MS) and takes over from the written state:
// final days and thresholds as persisted, the open windows matched again from their events.
import { randomUUID } from 'node:crypto';
import type { LiveInput } from '../../funnel/liveUnits.js';
import { FunnelRuntime, funnelVersion } from '../funnelRuntime.js';
import type { StoredFunnel } from '../types.js';
import { funnelFromRow } from '../rows.js';
import { Lease } from './lease.js';
import { ClickHouseFunnelStorage, copyOf, PROGRESS, type ClickHouseIo } from './funnels.js';
import * as SQL from './sql.js';

/** How often the materializer steps: an acknowledged event is in every report about this much later. */
export const MATERIALIZE_EVERY_MS = 1_000;
/** Events are read this long after their arrival stamp: an insert stamped earlier may still be on its way. */
const SETTLE_US = 500_000;
/**
 * Each step reads again the arrivals of the last minute, and takes those it has not seen: an
 * insert acknowledged late (its request took long) is still found. The client times out well before.
 */
const SLACK_US = 60_000_000;
/** event_arrivals keeps this many days of arrivals. */
const KEEP_ARRIVAL_DAYS = 3;

export interface MaterializerOptions {
  io: ClickHouseIo;
  database: string;
  lease: Lease;
  onError: (error: unknown) => void;
}

export class Materializer {
  private readonly storage: ClickHouseFunnelStorage;
  private runtime: FunnelRuntime | null = null;
  /** Every event that arrived by this (µs) has been taken. */
  private processed = 0;
  /** Keys of the events taken in the last SLACK_US, with their arrival. */
  private readonly recent = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private stepping: Promise<void> | null = null;
  private lastPartitionSweep = 0;
  readonly id = randomUUID();

  constructor(private readonly options: MaterializerOptions) {
    this.storage = new ClickHouseFunnelStorage(options.io);
  }

  start(): void {
    this.timer = setInterval(() => void this.step().catch(this.options.onError), MATERIALIZE_EVERY_MS);
    this.timer.unref();
  }

  /** Whether this collector materializes now. */
  get active(): boolean {
    return this.runtime !== null;
  }

  /** One step (or the one under way): take the lease or keep it, take what arrived, write what changed. */
  step(): Promise<void> {
    this.stepping ??= this.stepOnce().finally(() => { this.stepping = null; });
    return this.stepping;
  }

  /** Waits until the runtime's background work is done (back-fills, restoring), stepping meanwhile. */
  async idle(): Promise<void> {
    await this.step();
    await this.runtime?.idle();
    await this.step();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.stepping?.catch(() => undefined);
    await this.runtime?.close();
    this.runtime = null;
    await this.options.lease.release().catch(() => undefined);
  }

  private async stepOnce(): Promise<void> {
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
    await this.takeArrivals(runtime);
    runtime.tick(Infinity);
    await runtime.persisted();
    for (const change of runtime.takeLiveChanges()) this.storage.publishLive(change.site, change.id, change.version, change.days);
    this.storage.publishProgress(this.processed);
    await this.storage.flush();
    await this.dropOldArrivals();
  }

  /** Starts from what the last holder wrote: its progress, the persisted state, the open windows matched from their events. */
  private async takeOver(): Promise<void> {
    const [progress] = await this.options.io.rows(SQL.materializedRows(PROGRESS.site, [PROGRESS.kind], PROGRESS.key, `${PROGRESS.key}\u0000`));
    if (progress) {
      this.processed = (JSON.parse(String(progress.latest_value)) as { arrival: number }).arrival;
    } else {
      const [row] = await this.options.io.rows(SQL.lastArrival);
      this.processed = Number(row?.arrival ?? 0);
    }
    this.recent.clear();
    const runtime = new FunnelRuntime(this.storage, this.options.onError, false);
    await runtime.start(await this.savedFunnels(), this.processed);
    this.runtime = runtime;
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

  /** Takes the events that arrived since the last step, in order of arrival, each once (its first copy). */
  private async takeArrivals(runtime: FunnelRuntime): Promise<void> {
    const upTo = Date.now() * 1000 - SETTLE_US;
    if (upTo <= this.processed) return;
    const arrived = (await this.options.io.rows(SQL.arrivedBetween(Math.max(0, this.processed - SLACK_US), upTo)))
      .map((row) => ({ site: String(row.site), arrival: Number(row.arrival), ts: Number(row.ts), clientTs: Number(row.client_ts), dedupeKey: String(row.dedupe_key) }))
      .filter((a) => !this.recent.has(keyOf(a.site, a.clientTs, a.dedupeKey)));
    const taken: { site: string; event: LiveInput; key: string }[] = [];
    const bySite = new Map<string, typeof arrived>();
    for (const a of arrived) bySite.set(a.site, [...(bySite.get(a.site) ?? []), a]);
    for (const [site, list] of bySite) {
      const minTs = Math.min(...list.map((a) => a.ts));
      const maxTs = Math.max(...list.map((a) => a.ts));
      // A copy of an event stored before (a retry through any collector) is not the event again.
      const withId = list.filter((a) => a.dedupeKey.startsWith('i'));
      const first = new Map<string, number>();
      for (let i = 0; i < withId.length; i += 1_000) {
        for (const row of await this.options.io.rows(SQL.firstArrivals(site, minTs, withId.slice(i, i + 1_000)))) {
          first.set(keyOf(site, Number(row.client_ts), String(row.dedupe_key)), Number(row.first));
        }
      }
      const wanted = list.filter((a) => (first.get(keyOf(site, a.clientTs, a.dedupeKey)) ?? a.arrival) >= a.arrival);
      for (let i = 0; i < wanted.length; i += 1_000) {
        const chunk = wanted.slice(i, i + 1_000);
        for await (const rows of this.options.io.stream(SQL.copiesByArrival(site, minTs, maxTs, chunk))) {
          for (const row of rows) {
            const copy = copyOf(row);
            taken.push({ site, event: copy.event, key: keyOf(site, copy.clientTs, copy.dedupeKey) });
          }
        }
      }
    }
    taken.sort((a, b) => a.event.arrival - b.event.arrival);
    for (const { site, event, key } of taken) {
      if (this.recent.has(key)) continue;
      this.recent.set(key, event.arrival);
      runtime.observe(site, event);
    }
    this.processed = upTo;
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
    for (const row of await this.options.io.rows(SQL.oldArrivalPartitions(this.options.database, before))) {
      await this.options.io.mutate('event_arrivals', SQL.dropArrivalPartition(String(row.partition))).catch(this.options.onError);
    }
  }
}

const keyOf = (site: string, clientTs: number, dedupeKey: string) => `${site}\n${clientTs}\n${dedupeKey}`;
