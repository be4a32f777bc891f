// The SQLite store's persistence for its materialized funnels (store/funnelRuntime.ts): the
// final day aggregates, chain ends and thresholds in their tables, the events of open windows
// read a page at a time, and back-fills and previews run in a worker thread over a connection
// of their own.
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { ParsedFunnel } from '../../funnel/definition.js';
import type { IdentityLink } from '../../funnel/identity.js';
import type { EventLoader, LiveInput } from '../../funnel/liveUnits.js';
import { createFunnelAggregate, dayOf, mergeAggregates, type FunnelAggregate, type FunnelReport } from '../../funnel/report.js';
import { decodeAggregate, encodeAggregate } from '../../funnel/aggregateCodec.js';
import type { BackfillStep, FinalPart, FunnelStorage, PersistedFunnelState } from '../funnelRuntime.js';
import type { Row } from '../rows.js';
import type { SQL } from './sql.js';
import { funnelEventPages, funnelEventsAfter, funnelEventsByRowid, funnelKeyPages } from './funnelEvents.js';
import type { HistoryJob, HistoryMessage } from './historyWorker.js';
import {
  decodeFactorAggregate, encodeFactorAggregate, mergeFactorAggregates, peopleBounds, type FactorAggregate, type PersonRow,
} from '../../funnel/people.js';
import { DAY_MS } from '../../time.js';
import type { PeopleQuery, TimeRange } from '../types.js';

type Statements = { [K in keyof typeof SQL]: Database.Statement };

/** Day aggregates kept parsed (LRU): a report over the usual ranges reads none from disk twice. */
const CACHED_DAYS = 2_000;

const WORKER_URL = new URL('./historyWorker.ts', import.meta.url).href;
// The worker runs the same TypeScript (through tsx, as the collector does).
const TSX_API = import.meta.resolve('tsx/esm/api');

/** Runs a job in the history worker; its messages as they come. Stopping early (or `signal`) ends the worker. */
export async function* runHistoryJob(file: string, job: HistoryJob, signal?: AbortSignal): AsyncGenerator<HistoryMessage> {
  const worker = new Worker(
    `import(${JSON.stringify(TSX_API)}).then(({ register }) => { register(); return import(${JSON.stringify(WORKER_URL)}); })`,
    { eval: true, workerData: { file, job } },
  );
  const queue: HistoryMessage[] = [];
  let wake: (() => void) | null = null;
  let ended = false;
  const notify = () => { wake?.(); wake = null; };
  worker.on('message', (message: HistoryMessage) => { queue.push(message); notify(); });
  worker.on('error', (error) => { queue.push({ kind: 'error', message: error.stack ?? error.message }); notify(); });
  worker.on('exit', () => { ended = true; notify(); });
  const stop = () => void worker.terminate();
  signal?.addEventListener('abort', stop);
  try {
    for (;;) {
      const message = queue.shift();
      if (message) {
        if (message.kind === 'error') throw new Error(`history worker: ${message.message}`);
        yield message;
        if (message.kind === 'end' || message.kind === 'report') return;
        continue;
      }
      if (ended || signal?.aborted) return;
      await new Promise<void>((resolve) => { wake = resolve; });
    }
  } finally {
    signal?.removeEventListener('abort', stop);
    await worker.terminate();
  }
}

export class SqliteFunnelStorage implements FunnelStorage {
  private readonly cache = new Map<string, FunnelAggregate | null>();

  constructor(
    private readonly db: Database.Database,
    private readonly file: string,
    private readonly statements: Statements,
  ) {}

  async watermark(site: string, arrivalBound: number): Promise<number> {
    const row = this.statements.siteWatermark.get(site, arrivalBound) as Row;
    return row.ts === null ? -Infinity : Number(row.ts);
  }

  async links(site: string, arrivalBound: number): Promise<Iterable<[string, IdentityLink]>> {
    return (this.statements.siteLinks.all(site, arrivalBound) as Row[]).map((row) => [
      String(row.visitor), { lead: String(row.lead), at: Number(row.at) },
    ]);
  }

  async *events(site: string, fromMs: number, toMs: number, arrivalBound: number): AsyncIterable<LiveInput[]> {
    yield* funnelEventPages(this.statements.funnelEventPage, site, fromMs, toMs, arrivalBound);
  }

  async *keys(site: string, fromMs: number, toMs: number, arrivalBound: number): AsyncIterable<[number, number, string][]> {
    yield* funnelKeyPages(this.statements.funnelKeyPage, site, fromMs, toMs, arrivalBound);
  }

  /** Snapshots are written with each step that makes windows final: a start after a crash uses them too. */
  readonly snapshotsWithSteps = true;

  async saveSnapshot(site: string, snapshot: string): Promise<void> {
    this.statements.putFunnelSnapshot.run(site, snapshot);
  }

  /** The site's snapshot, removed as it is read: it describes a state this start moves on from. */
  async takeSnapshot(site: string): Promise<string | null> {
    const row = this.statements.funnelSnapshot.get(site) as Row | undefined;
    if (row) this.statements.deleteFunnelSnapshot.run(site);
    return row ? String(row.data) : null;
  }

  async *eventsAfter(site: string, afterArrival: number, arrivalBound: number): AsyncIterable<LiveInput[]> {
    yield* funnelEventsAfter(this.statements.funnelEventsAfter, site, afterArrival, arrivalBound);
  }

  /** Idle units' events are read back by rowid (the primary key): their rows are near each other, and recent. */
  loader(): EventLoader {
    return (rowids) => funnelEventsByRowid(this.statements.funnelEventsByRowid, rowids);
  }

  /** The highest rowid: every event up to it is committed. */
  lastArrival(): number {
    return Number((this.statements.lastArrival.get() as Row).n ?? 0);
  }

  async state(site: string, id: string): Promise<PersistedFunnelState | null> {
    const row = this.statements.funnelState.get(site, id) as Row | undefined;
    if (!row) return null;
    return { version: String(row.version), threshold: row.threshold === null ? -Infinity : Number(row.threshold), complete: row.complete === 1 };
  }

  async chainEnds(site: string, id: string): Promise<Map<string, number>> {
    return new Map((this.statements.chainEnds.all(site, id) as Row[]).map((row) => [String(row.unit), Number(row.window_end)]));
  }

  async finalDays(site: string, id: string, days: readonly string[]): Promise<Map<string, FunnelAggregate>> {
    const missing = days.filter((day) => !this.cache.has(cacheKey(site, id, day)));
    if (missing.length > 0) {
      const found = new Map((this.statements.funnelDays.all(site, id, missing[0], missing[missing.length - 1]) as Row[])
        .map((row) => [String(row.day), String(row.aggregate)]));
      for (const day of missing) {
        const text = found.get(day);
        this.remember(cacheKey(site, id, day), text === undefined ? null : decodeAggregate(text));
      }
    }
    const result = new Map<string, FunnelAggregate>();
    for (const day of days) {
      const key = cacheKey(site, id, day);
      const aggregate = this.cache.get(key) ?? null;
      this.remember(key, aggregate);
      if (aggregate) result.set(day, aggregate);
    }
    return result;
  }

  async addFinal(site: string, id: string, part: FinalPart): Promise<void> {
    const { putFunnelDay, putChainEnd, setFunnelThreshold, pruneChainEnds } = this.statements;
    const merged = new Map<string, FunnelAggregate>();
    for (const [day, delta] of part.days) {
      const current = (await this.finalDays(site, id, [day])).get(day);
      // A new object: the cached one changes only once the transaction has committed.
      const total = createFunnelAggregate(delta.stepCount);
      if (current) mergeAggregates(total, current);
      merged.set(day, mergeAggregates(total, delta));
    }
    const { putPerson, putFactorDay, factorDays } = this.statements;
    this.db.transaction(() => {
      for (const [day, delta] of part.factors) {
        const current = factorDays.get(site, id, day, day) as Row | undefined;
        const total = current ? mergeFactorAggregates(decodeFactorAggregate(String(current.factors)), delta) : delta;
        putFactorDay.run(site, id, day, encodeFactorAggregate(total));
      }
      for (const [day, aggregate] of merged) putFunnelDay.run(site, id, day, encodeAggregate(aggregate));
      for (const row of part.rows) {
        putPerson.run(site, id, row.start, row.unit, row.opensAt, row.reached, row.openUntil, row.visitor, JSON.stringify(row));
      }
      for (const [unit, windowEnd] of part.chainEnds) putChainEnd.run(site, id, unit, windowEnd);
      if (part.threshold !== null) setFunnelThreshold.run(finite(part.threshold), site, id);
      if (part.chainEndsBefore !== null) pruneChainEnds.run(site, id, finite(part.chainEndsBefore));
    })();
    for (const [day, aggregate] of merged) this.remember(cacheKey(site, id, day), aggregate);
  }

  async resetFunnel(site: string, id: string, version: string, threshold: number): Promise<void> {
    this.db.transaction(() => {
      this.statements.deleteFunnelDays.run(site, id);
      this.statements.deleteChainEnds.run(site, id);
      this.statements.deletePeople.run(site, id);
      this.statements.deleteFactorDays.run(site, id);
      this.statements.putFunnelState.run(site, id, version, finite(threshold), 0);
    })();
    this.forgetCached(site, id);
  }

  async markComplete(site: string, id: string): Promise<void> {
    this.statements.setFunnelComplete.run(site, id);
  }

  async deleteFunnel(site: string, id: string): Promise<void> {
    this.db.transaction(() => {
      this.statements.deleteFunnelDays.run(site, id);
      this.statements.deleteChainEnds.run(site, id);
      this.statements.deletePeople.run(site, id);
      this.statements.deleteFactorDays.run(site, id);
      this.statements.deleteFunnelState.run(site, id);
    })();
    this.forgetCached(site, id);
  }

  async *backfill(site: string, funnel: ParsedFunnel, until: number, arrivalBound: number, signal: AbortSignal): AsyncIterable<BackfillStep> {
    const job: HistoryJob = { kind: 'backfill', site, definition: funnel.definition, until, arrivalBound };
    for await (const message of runHistoryJob(this.file, job, signal)) {
      if (message.kind === 'days') {
        yield { kind: 'days', days: new Map(message.days.map(([day, text]) => [day, decodeAggregate(text)])), rows: message.rows, done: message.done };
      } else if (message.kind === 'end') {
        yield { kind: 'end', chainEnds: new Map(message.chainEnds) };
      }
    }
  }

  /** The final people rows of a page (live ones are the runtime's): `limit` after the cursor, at most. */
  finalPeople(site: string, id: string, range: TimeRange, query: PeopleQuery): PersonRow[] {
    const { min, max, open } = peopleBounds(query);
    const after = query.after ?? { start: -Number.MAX_SAFE_INTEGER, unit: '', opensAt: -Number.MAX_SAFE_INTEGER };
    const rows = this.statements.peoplePage.all(
      site, id, range.fromMs, range.toMs, min, max, open === null ? -1 : Number(open), query.now, open === null ? -1 : Number(open),
      after.start, after.unit, after.opensAt, query.limit + 1,
    ) as Row[];
    return rows.map((row) => JSON.parse(String(row.row)) as PersonRow);
  }

  /** The factor aggregates of the final entries of a range's days. */
  finalFactors(site: string, id: string, range: TimeRange): FactorAggregate[] {
    const rows = this.statements.factorDays.all(site, id, dayOf(range.fromMs, 'UTC'), dayOf(range.toMs - DAY_MS, 'UTC')) as Row[];
    return rows.map((row) => decodeFactorAggregate(String(row.factors)));
  }

  /** The report of an unsaved funnel, matched in the worker from the events of its span. */
  async preview(job: Extract<HistoryJob, { kind: 'preview' }>): Promise<FunnelReport> {
    for await (const message of runHistoryJob(this.file, job)) {
      if (message.kind === 'report') return message.report as FunnelReport;
    }
    throw new Error('the preview worker ended without a report');
  }

  private remember(key: string, aggregate: FunnelAggregate | null): void {
    this.cache.delete(key);
    this.cache.set(key, aggregate);
    if (this.cache.size > CACHED_DAYS) this.cache.delete(this.cache.keys().next().value as string);
  }

  private forgetCached(site: string, id: string): void {
    const prefix = cacheKey(site, id, '');
    for (const key of [...this.cache.keys()]) if (key.startsWith(prefix)) this.cache.delete(key);
  }
}

const cacheKey = (site: string, id: string, day: string) => `${site}\n${id}\n${day}`;

/** SQLite has no infinities in INTEGER columns: "none yet" is NULL. */
function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}
