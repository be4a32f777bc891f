// The scale-out store: ClickHouse over HTTP with @clickhouse/client (or chDB in-process, for
// tests of a current release: connection.ts). Every collector that
// shares the database shares everything: events, bot counts, sites, salts and settings.
import { randomUUID } from 'node:crypto';
import type { StoredEvent } from '../../event.js';
import type {
  AccountRecord, AccountRecordKind, AuditEntry, DeliveryOutcome, HeatmapQuery, LeadSettings, ReportOptions, SavedFunnelReport, Site, Stats, Store, StoredFunnel, TimeRange, WebhookDelivery, WriteBatch, PeoplePage, PeopleQuery,
} from '../types.js';
import { cloneLead, type LeadRecord, type StageMove, type StageMoveResult } from '../../leads/lead.js';
import type { ScoringRules } from '../../leads/scoring.js';
import { Lease } from './lease.js';
import { chdbConnection, hasAsyncInserts, httpConnection, type SqlConnection } from './connection.js';
import { CLUSTER_COMMAND_TIMEOUT_MS, CLUSTER_SETTINGS, ClusterSchema, reportingUnavailability } from './cluster.js';
import { OUTBOUND_TARGETS } from '../../leads/outbound.js';
import { parseStoredFunnel, type ParsedFunnel } from '../../funnel/definition.js';
import type { FunnelReport } from '../../funnel/report.js';
import { previewReport, previewSpan } from '../../funnel/preview.js';
import { leadUnit, visitorUnit } from '../../funnel/identity.js';
import { FunnelPeople, FunnelReports, PROGRESS, funnelEventPages, siteLinks, versionPrefix, type ClickHouseIo } from './funnels.js';
import { funnelVersion } from '../funnelRuntime.js';
import type { CorrelationQuestion, FactorCounts } from '../../funnel/people.js';
import { Materializer } from './materializer.js';
import { ClickHouseHeatmaps } from './heatmaps.js';
import type { Heatmap, HeatmapPerson } from '../../heatmaps/capture.js';
import { LeadList, moveAnswer, storedDeliveries, timelineEvents, timelineKeys } from './leads.js';
import { utcDay } from '../../time.js';
import * as SQL from './sql.js';
import { accountRecordFromRow, auditEntryFromRow, funnelFromRow, siteFromRow, statsFromRows, type Row } from '../rows.js';

export interface ClickHouseTarget {
  url: string;
  username: string;
  password: string;
  database: string;
  /** `?cluster=NAME`: the schema is made ON CLUSTER NAME (cluster.ts). */
  cluster?: string;
}

/** Reads clickhouse://USER:PASS@HOST:PORT/DB[?cluster=NAME] (port 8123 when left out; user `default`). */
export function parseClickHouseUrl(databaseUrl: string): ClickHouseTarget {
  const url = new URL(databaseUrl);
  if (url.protocol !== 'clickhouse:') throw new TypeError(`not a clickhouse:// URL: ${url.protocol}`);
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'funnelbeam';
  return {
    url: `http://${url.hostname}:${url.port || '8123'}`,
    username: decodeURIComponent(url.username) || 'default',
    password: decodeURIComponent(url.password),
    database: SQL.databaseName(database),
    ...(url.searchParams.get('cluster') ? { cluster: SQL.databaseName(url.searchParams.get('cluster')!) } : {}),
  };
}


/** The key that tells copies of an event apart: its client id, or one of its own. */
export function dedupeKeyOf(e: StoredEvent): string {
  // Events without a client id are never duplicates of one another (unless a spool ships one twice: it fixes their keys).
  return e.id === null ? `u${randomUUID()}` : `i${e.id}`;
}

function eventRow(e: StoredEvent, arrival: number, dedupeKey: string): Row {
  const props = e.props ? Object.entries(e.props) : [];
  return {
    arrival,
    site: e.site,
    ts: e.ts,
    client_ts: e.client_ts,
    dedupe_key: dedupeKey,
    id: e.id,
    name: e.name,
    visitor: e.visitor,
    session: e.session,
    lead: e.lead,
    url: e.url,
    path: e.path,
    landing: e.landing,
    referrer: e.referrer,
    channel: e.channel,
    source: e.source,
    medium: e.medium,
    campaign: e.campaign,
    term: e.term,
    content: e.content,
    browser: e.browser,
    os: e.os,
    device: e.device,
    props: e.props ? JSON.stringify(e.props) : null,
    prop_keys: props.map(([key]) => key),
    prop_values: props.map(([, value]) => String(value)),
    revenue_amount: e.revenue_amount,
    revenue_currency: e.revenue_currency,
    engaged_ms: e.engaged_ms,
    scroll: e.scroll,
    variant: e.variant,
  };
}

const nullableNumber = (value: unknown) => (value === null ? null : Number(value));

/** An exported row back into the event as it was stored (64-bit numbers arrive as strings). */
function storedEventFromRow(site: string, row: Row): StoredEvent {
  const event = { site } as Record<string, unknown>;
  for (const column of SQL.EXPORTED_COLUMNS) event[column] = row[column];
  return {
    ...(event as unknown as StoredEvent),
    client_ts: Number(row.client_ts),
    ts: Number(row.ts),
    props: row.props === null ? null : (JSON.parse(String(row.props)) as StoredEvent['props']),
    revenue_amount: nullableNumber(row.revenue_amount),
    engaged_ms: nullableNumber(row.engaged_ms),
    scroll: nullableNumber(row.scroll),
  };
}



/**
 * How long the first writer of a salt or setting waits before reading back which value holds:
 * long enough for a collector racing it to have inserted its own, so both read the same.
 */
const SETTLE_MS = 250;

export interface ClickHouseOptions {
  /** Whether this collector may materialize the funnels (claim the lease); default true. */
  materialize?: boolean;
  /** CLICKHOUSE_CLUSTER: the cluster (remote_servers) to make the schema on; `?cluster=` in the URL does the same. */
  cluster?: string | null;
}

/** How long a stage move waits for the materializer's answer. */
const MOVE_WAIT_MS = 15_000;
/** How long saving a funnel waits for its back-fill (as on SQLite). */
const PUT_WAIT_MS = 3_000;
/** How long `settled` waits for the materializer to catch up. */
const SETTLE_TIMEOUT_MS = 120_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class ClickHouseStore implements Store {
  /** Versions of the rows this store replaces (sites, funnels): wall-clock ms, never repeating. */
  private lastVersion = 0;
  private lastArrival = 0;
  /** Deliveries given to the sender, until it settles them. */
  private readonly handedOut = new Map<string, { site: string; lead: string; attempts: number }>();
  private readonly io: ClickHouseIo = {
    rows: (query) => this.rows(query),
    stream: (query) => this.stream(query),
    insert: (table, values) => this.insert(table, values),
    mutate: (table, query) => this.mutate(table, query),
  };
  private readonly reports = new FunnelReports(this.io);
  private readonly people = new FunnelPeople(this.io);
  private readonly heatmaps = new ClickHouseHeatmaps(this.io);
  /**
   * A current release gathers small inserts from many collectors into one part (async inserts),
   * answering once it is written; 18.16 has none, and makes a part per insert.
   */
  private readonly eventInsertSettings: Record<string, number> | undefined;

  /** The server's version, and whether events go in as async inserts there (tests hold both paths). */
  get server(): { version: string; asyncInserts: boolean } {
    return { version: this.sql.version, asyncInserts: this.eventInsertSettings !== undefined };
  }
  /**
   * An insert costs a part on the server (on 18.16, 122 files for events and their arrivals)
   * whatever its size: the write queue waits up to a quarter of the last insert's duration, at
   * most this, so that the clients the last insert answered join the next one.
   */
  readonly commitGatherMs = 40;
  private readonly leadList = new LeadList(this.io);
  readonly materializer: Materializer;

  private constructor(
    private readonly sql: SqlConnection,
    private readonly database: string,
    private readonly clusterSchema: ClusterSchema | null = null,
  ) {
    this.eventInsertSettings = hasAsyncInserts(sql.version) ? { async_insert: 1, wait_for_async_insert: 1 } : undefined;
    this.materializer = new Materializer({
      io: this.io,
      lease: new Lease('materializer', { rows: (query) => this.rows(query), insert: (table, values) => this.insert(table, values), sleep }, SETTLE_MS),
      onError: (error) => console.error('materializer:', error),
    });
  }

  /** Connects, creates the database if missing and migrates its schema. */
  static async open(databaseUrl: string, options: ClickHouseOptions = {}): Promise<ClickHouseStore> {
    let sql: SqlConnection;
    let database: string;
    let cluster: string | null = null;
    if (databaseUrl.startsWith('chdb:')) {
      if (options.cluster) throw new Error('chdb: runs one process, not a cluster: unset CLICKHOUSE_CLUSTER');
      const url = new URL(databaseUrl);
      database = url.searchParams.get('database') ?? 'funnelbeam';
      sql = await chdbConnection(decodeURIComponent(url.pathname), database);
    } else {
      const target = parseClickHouseUrl(databaseUrl);
      database = target.database;
      cluster = target.cluster ?? options.cluster ?? null;
      sql = await httpConnection(cluster ? { ...target, settings: CLUSTER_SETTINGS, commandTimeoutMs: CLUSTER_COMMAND_TIMEOUT_MS } : target);
    }
    const store = new ClickHouseStore(reportingUnavailability(sql), database, cluster ? new ClusterSchema(cluster, database) : null);
    try {
      await store.migrate();
    } catch (error) {
      await store.close();
      throw error;
    }
    if (options.materialize ?? true) store.materializer.start();
    return store;
  }

  private async migrate(): Promise<void> {
    for (const statement of this.clusterSchema?.setup() ?? []) await this.command(statement);
    for (const statement of this.clusterSchema?.statements(SQL.MIGRATIONS_TABLE) ?? [SQL.MIGRATIONS_TABLE]) await this.command(statement);
    const [row] = await this.rows(SQL.appliedMigration);
    const applied = Number(row?.version ?? 0);
    for (let i = applied; i < SQL.MIGRATIONS.length; i++) {
      // Collectors starting together may both apply a step; the loser's ADD COLUMN finds it
      // done (18.16 has no ADD COLUMN IF NOT EXISTS).
      const run = (statement: string) => this.command(statement).catch((error: unknown) => {
        if (!/already exists/i.test(String(error))) throw error;
      });
      if (this.clusterSchema) await this.clusterSchema.apply(SQL.MIGRATIONS[i], run);
      else for (const statement of SQL.MIGRATIONS[i]) await run(statement);
      await this.command(SQL.recordMigration(i + 1));
    }
  }


  /** Rows of a SELECT, 64-bit numbers arriving as strings (JSON quotes them). */
  private rows(query: string): Promise<Row[]> {
    return this.sql.rows(query);
  }

  /** A large SELECT's rows a block at a time (JSONEachRow: 18.16 streams no more compact JSON). */
  private stream(query: string): AsyncIterable<Row[]> {
    return this.sql.stream(query);
  }

  private command(query: string): Promise<void> {
    return this.sql.command(query);
  }

  private insert(table: string, values: Row[], settings?: Record<string, number>): Promise<void> {
    return this.sql.insert(table, values, settings);
  }

  // ClickHouse acknowledges an insert once its part is written (like SQLite's NORMAL: it
  // survives a crash of either process, not a power cut). There is no transaction across the
  // two tables, so bots go first: if the events then fail, their clients retry them, while the
  // bots, which nobody retries, are already counted.
  async write(batch: WriteBatch): Promise<void> {
    if (batch.bots.length > 0) {
      await this.insert('bot_counts', batch.bots.map((b) => ({ site: b.site, day: b.day, count: b.count })));
    }
    if (batch.events.length > 0) {
      const rows = batch.events.map((event, i) => eventRow(event, this.nextArrival(), batch.keys?.[i] ?? dedupeKeyOf(event)));
      await this.insert('events', rows, this.eventInsertSettings);
    }
    await this.heatmaps.write(batch.events);
  }

  /** Counted against the copies already stored (every read keeps the first copy, so a duplicate inserted changes nothing). */
  async importEvents(events: readonly StoredEvent[]): Promise<{ imported: number; duplicates: number }> {
    if (events.length === 0) return { imported: 0, duplicates: 0 };
    const seen = new Set<string>();
    const keyOf = (site: string, clientTs: number, dedupeKey: string) => `${site}\n${clientTs}\n${dedupeKey}`;
    const withId = events.filter((e) => e.id !== null);
    for (const site of new Set(withId.map((e) => e.site))) {
      const keys = withId.filter((e) => e.site === site).map((e) => ({ clientTs: e.client_ts, dedupeKey: `i${e.id}` }));
      for (const row of await this.rows(SQL.storedKeys(site, keys))) {
        seen.add(keyOf(site, Number(row.client_ts), String(row.dedupe_key)));
      }
    }
    let duplicates = 0;
    for (const e of withId) {
      const key = keyOf(e.site, e.client_ts, `i${e.id}`);
      if (seen.has(key)) duplicates++;
      seen.add(key);
    }
    await this.write({ events: [...events], bots: [] });
    return { imported: events.length - duplicates, duplicates };
  }

  async createSite(site: Site): Promise<boolean> {
    const [existing] = await this.rows(SQL.siteExists(site.domain));
    if (Number(existing.n) > 0) return false;
    const writer = randomUUID();
    await this.insert('sites', [{
      domain: site.domain,
      origins: JSON.stringify(site.origins),
      allowed_params: JSON.stringify(site.allowedParams),
      created_at: site.createdAt,
      retention_days: site.retentionDays ?? null,
      version: SQL.siteCreationVersion(site.createdAt),
      writer,
    }]);
    // Collectors creating the same site at once both insert; the earliest creation holds.
    const [current] = await this.rows(SQL.currentSite(site.domain));
    return current?.writer === writer;
  }

  async updateSite(site: Site): Promise<void> {
    const [current] = await this.rows(SQL.currentSite(site.domain));
    if (!current) return;
    await this.insert('sites', [{
      domain: site.domain,
      origins: JSON.stringify(site.origins),
      allowed_params: JSON.stringify(site.allowedParams),
      created_at: Number(current.created_at),
      retention_days: site.retentionDays ?? null,
      version: SQL.siteUpdateVersion(this.nextVersion()),
      writer: randomUUID(),
    }]);
  }

  async listSites(): Promise<Site[]> {
    return (await this.rows(SQL.listSites)).map(siteFromRow);
  }

  async stats(site: string, range: TimeRange): Promise<Stats> {
    const [[e], [b]] = await Promise.all([
      this.rows(SQL.eventStats(site, range)),
      this.rows(SQL.botStats(site, utcDay(range.fromMs), utcDay(range.toMs - 1))),
    ]);
    return statsFromRows(e, b);
  }

  async putFunnel(funnel: StoredFunnel): Promise<void> {
    // As an upsert on SQLite: a replaced funnel keeps when it was first created.
    const [current] = await this.rows(SQL.currentFunnel(funnel.site, funnel.id));
    await this.insert('funnels', [{
      site: funnel.site,
      id: funnel.id,
      definition: JSON.stringify(funnel.definition),
      created_at: current ? Number(current.created_at) : funnel.createdAt,
      updated_at: funnel.updatedAt,
      deleted: 0,
      version: this.nextVersion(),
    }]);
    // As on SQLite, saving waits a little for the back-fill (the materializer's next step picks
    // the definition up): a small site's funnel reports in full at once.
    const prefix = versionPrefix(funnel.id, funnelVersion(funnel.definition));
    const deadline = Date.now() + PUT_WAIT_MS;
    while (Date.now() < deadline) {
      if (this.materializer.active) await this.materializer.step();
      const [state] = await this.rows(SQL.materializedRows(funnel.site, ['funnel_state'], prefix, `${prefix}\u0000`));
      if (state && (JSON.parse(String(state.latest_value)) as { complete: boolean }).complete) return;
      await sleep(50);
    }
  }

  async listFunnels(site: string): Promise<StoredFunnel[]> {
    return (await this.rows(SQL.listFunnels(site))).map(funnelFromRow);
  }

  async deleteFunnel(site: string, id: string): Promise<boolean> {
    const [current] = await this.rows(SQL.currentFunnel(site, id));
    if (!current) return false;
    await this.insert('funnels', [{
      site, id, definition: String(current.definition), created_at: Number(current.created_at),
      updated_at: Number(current.updated_at), deleted: 1, version: this.nextVersion(),
    }]);
    return true;
  }

  /** From the rows the materializer wrote (funnels.ts): any collector answers alike, without matching anything. */
  async funnelReport(site: string, id: string, range: TimeRange, options: ReportOptions): Promise<SavedFunnelReport | null> {
    const [current] = await this.rows(SQL.currentFunnel(site, id));
    if (!current) return null;
    return this.reports.report(site, id, parseStoredFunnel(funnelFromRow(current).definition), range, options);
  }

  async funnelPeople(site: string, id: string, range: TimeRange, query: PeopleQuery): Promise<PeoplePage | null> {
    const [current] = await this.rows(SQL.currentFunnel(site, id));
    if (!current) return null;
    return this.people.page(site, id, funnelVersion(funnelFromRow(current).definition), range, query);
  }

  async funnelFactors(site: string, id: string, range: TimeRange, question: CorrelationQuestion): Promise<FactorCounts | null> {
    const [current] = await this.rows(SQL.currentFunnel(site, id));
    if (!current) return null;
    return this.people.factors(site, id, funnelVersion(funnelFromRow(current).definition), range, question);
  }

  async visitorEvents(site: string, visitor: string, limit: number): Promise<StoredEvent[]> {
    return (await this.rows(SQL.visitorEvents(site, visitor, limit))).map((row) => storedEventFromRow(site, row));
  }

  /** Matched here from the events of the preview's span (funnel/preview.ts), as SQLite does. */
  async previewFunnel(site: string, funnel: ParsedFunnel, range: TimeRange, options: ReportOptions): Promise<FunnelReport> {
    const everything = Number.MAX_SAFE_INTEGER;
    const span = previewSpan(funnel, range);
    const [links, events] = await Promise.all([
      siteLinks(this.io, site, everything),
      (async () => {
        const all = [];
        for await (const page of funnelEventPages(this.io, site, span.fromMs, span.toMs, everything)) all.push(...page);
        return all;
      })(),
    ]);
    return previewReport(events, (visitor) => links.get(visitor), funnel, range, options);
  }

  /**
   * Resolves once the materializer (this collector or another) has taken every event written
   * before the call, and every saved funnel is computed in full.
   */
  async settled(): Promise<void> {
    const target = this.nextArrival();
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.materializer.active) {
        await this.materializer.step(target);
        await this.materializer.idle();
      }
      if (await this.caughtUp(target)) return;
      await sleep(100);
    }
    throw new Error('the funnels did not settle in time');
  }

  private async caughtUp(arrival: number): Promise<boolean> {
    const [progress] = await this.rows(SQL.materializedRows(PROGRESS.site, [PROGRESS.kind], PROGRESS.key, `${PROGRESS.key}\u0000`));
    if (!progress || (JSON.parse(String(progress.latest_value)) as { arrival: number }).arrival < arrival) return false;
    for (const row of await this.rows(SQL.allFunnels)) {
      const funnel = funnelFromRow(row);
      const prefix = versionPrefix(funnel.id, funnelVersion(funnel.definition));
      const rows = await this.rows(SQL.materializedRows(funnel.site, ['funnel_state', 'funnel_stale'], prefix, `${prefix}\u0000`));
      const state = rows.find((row) => row.kind === 'funnel_state');
      if (!state || !(JSON.parse(String(state.latest_value)) as { complete: boolean }).complete) return false;
      if (rows.some((row) => row.kind === 'funnel_stale' && Number(row.latest_deleted) === 0)) return false;
    }
    return true;
  }

  async getLeadSettings(site: string): Promise<LeadSettings> {
    const settings: LeadSettings = { scoring: null, webhook: null, hubspot: null, pipedrive: null };
    for (const row of await this.rows(SQL.currentLeadSettings(site))) {
      const field = String(row.field) as keyof LeadSettings;
      if (field in settings) settings[field] = JSON.parse(String(row.value));
    }
    return settings;
  }

  /** Logged, not applied: every replay from here on scores the site's leads under the new rules (as SQLite rescoring does). */
  async putLeadSettings(site: string, settings: Partial<LeadSettings>): Promise<void> {
    // Deliveries' targets go first, as on SQLite: new rules that make MQLs queue them to them.
    const rows: Row[] = [];
    for (const field of [...OUTBOUND_TARGETS, 'scoring'] as const) {
      const value = settings[field];
      if (value !== undefined) rows.push({ site, field, seq: this.nextArrival(), value: JSON.stringify(value) });
    }
    if (rows.length > 0) await this.insert('lead_settings', rows);
  }

  /** As the materializer last wrote them (leads.ts), read whole once, then only what changed. */
  async leads(site: string): Promise<LeadRecord[]> {
    return this.leadList.leads(site);
  }

  /** The materializer keeps which events are the lead's; their other fields are read by key. */
  async leadEvents(site: string, lead: string, limit: number): Promise<StoredEvent[]> {
    const rows = await timelineEvents(this.io, site, await timelineKeys(this.io, site, lead));
    const events = rows.map((row) => storedEventFromRow(site, row));
    return limit < 0 ? events : events.slice(0, limit);
  }

  /**
   * Logged; the materializer checks and applies the move in the log's order, after every event
   * that arrived before it, and writes its answer, which this waits for. Two moves of one lead
   * racing through two collectors are ordered by their clocks, and the one that then no longer
   * follows from the stage before it is refused (409), on both.
   */
  async moveLeadStage(site: string, lead: string, move: StageMove): Promise<StageMoveResult> {
    const id = randomUUID();
    const seq = this.nextArrival();
    await this.insert('lead_moves', [{
      site, lead, seq, id, stage: move.stage, at: move.at, amount: move.amount ?? null, currency: move.currency ?? null,
    }]);
    const deadline = Date.now() + MOVE_WAIT_MS;
    while (Date.now() < deadline) {
      if (this.materializer.active) await this.materializer.step(seq);
      const answer = await moveAnswer(this.io, site, id);
      if (answer) return answer;
      await sleep(50);
    }
    throw new Error(`stage move ${id} was logged but not applied within ${MOVE_WAIT_MS} ms`);
  }

  /**
   * Deliveries are those the materializer derived (leads.ts); only the collector holding its
   * lease gets any, so each is sent by one.
   */
  async dueWebhookDeliveries(now: number, limit: number): Promise<WebhookDelivery[]> {
    if (!this.materializer.active) return [];
    const due: (WebhookDelivery & { lead: string; seq: number })[] = [];
    for (const { site } of await this.rows(SQL.outboundSites)) {
      const [deliveries, attemptRows] = await Promise.all([storedDeliveries(this.io, String(site)), this.rows(SQL.latestAttempts(String(site)))]);
      const attempts = new Map(attemptRows.map((row) => [String(row.id), row]));
      const blocked = new Set<string>();
      for (const delivery of deliveries) {
        const attempt = attempts.get(delivery.id);
        const queue = `${delivery.lead}\n${delivery.target}`;
        if (attempt?.status === 'delivered' || attempt?.status === 'failed' || blocked.has(queue)) continue;
        // A lead's deliveries to a target go in order: the first one not yet done holds back the rest.
        blocked.add(queue);
        const createdAt = Math.floor(delivery.seq / 1000);
        const nextAt = attempt ? Number(attempt.next_at) : createdAt;
        if (nextAt > now) continue;
        due.push({
          id: delivery.id, site: String(site), lead: delivery.lead, target: delivery.target, seq: delivery.seq, type: delivery.type, body: delivery.body,
          attempts: attempt ? Number(attempt.attempts) : 0, nextAt, createdAt,
        });
      }
    }
    due.sort((a, b) => a.nextAt - b.nextAt || a.seq - b.seq);
    return due.slice(0, limit).map(({ seq: _, ...delivery }) => {
      this.handedOut.set(delivery.id, { site: delivery.site, lead: delivery.lead, attempts: delivery.attempts });
      return delivery;
    });
  }

  async settleWebhookDelivery(id: string, outcome: DeliveryOutcome): Promise<void> {
    const delivery = this.handedOut.get(id);
    if (!delivery) throw new Error(`delivery ${id} was not handed out by this collector`);
    this.handedOut.delete(id);
    await this.insert('webhook_attempts', [{
      // A held delivery was not attempted: it is pending as a retry is, without counting.
      site: delivery.site, lead: delivery.lead, id, seq: this.nextArrival(), status: outcome.status === 'hold' ? 'retry' : outcome.status,
      attempts: delivery.attempts + (outcome.status === 'hold' ? 0 : 1), next_at: outcome.status === 'retry' || outcome.status === 'hold' ? outcome.at : 0,
      error: outcome.status === 'delivered' ? '' : outcome.error,
    }]);
  }

  async dailySalt(day: string, candidate: string): Promise<string> {
    const existing = await this.smallest(SQL.getSalt(day), 'salt');
    if (existing !== null) return existing;
    await this.insert('salts', [{ day, salt: candidate }]);
    await sleep(SETTLE_MS);
    return (await this.smallest(SQL.getSalt(day), 'salt')) ?? candidate;
  }

  async deleteSaltsBefore(keepFromDay: string): Promise<void> {
    const [old] = await this.rows(SQL.countSaltsBefore(keepFromDay));
    if (Number(old.n) === 0) return;
    await this.mutate('salts', SQL.deleteSaltsBefore(keepFromDay));
  }

  /** Runs an ALTER ... DELETE and waits for the background mutation, so the rows are gone on return. */
  private async mutate(table: string, query: string): Promise<void> {
    const matching = this.clusterSchema?.matching(query);
    if (matching && Number((await this.rows(matching))[0]?.n) === 0) return;
    await this.command(this.clusterSchema?.mutation(query) ?? query);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const [pending] = await this.rows(this.clusterSchema?.pendingMutations(table) ?? SQL.pendingMutations(this.database, table));
      if (Number(pending.n) === 0) return;
      await sleep(20);
    }
  }

  async deleteVisitor(site: string, visitor: string): Promise<number> {
    const [found] = await this.rows(SQL.countVisitorEvents(site, visitor));
    // The materializer forgets the visitor's link and anonymous visits in the log's order.
    await this.insert('lead_erasures', [{ site, seq: this.nextArrival(), lead: null, visitors: [visitor] }]);
    if (Number(found.n) > 0) await this.mutate('events', SQL.deleteVisitorEvents(site, visitor));
    await this.mutate('materialized', SQL.deletePeopleRows(site, [visitorUnit(visitor)], [visitor]));
    await this.heatmaps.erase(site, null, [visitor]);
    return Number(found.n);
  }

  /**
   * The lead's events and those of every visitor identified as it, its stage moves and its
   * webhook attempts, and its materialized state: nothing of it is left.
   */
  async deleteLead(site: string, lead: string): Promise<number> {
    const visitors = (await this.rows(SQL.visitorsOfLead(site, lead))).map((row) => String(row.visitor));
    const [[found], [logged]] = await Promise.all([
      this.rows(SQL.countLeadEvents(site, lead, visitors)), this.rows(SQL.countLeadRows(site, lead)),
    ]);
    // The materializer forgets the lead in the log's order (and writes it away); its rows are deleted here, once applied.
    const seq = this.nextArrival();
    await this.insert('lead_erasures', [{ site, seq, lead, visitors }]);
    await this.waitFor(seq);
    if (Number(found.n) > 0) await this.mutate('events', SQL.deleteLeadEvents(site, lead, visitors));
    if (Number(logged.moves) > 0) await this.mutate('lead_moves', SQL.deleteLeadMoves(site, lead));
    if (Number(logged.attempts) > 0) await this.mutate('webhook_attempts', SQL.deleteLeadAttempts(site, lead));
    await this.mutate('materialized', SQL.deleteLeadState(site, lead));
    await this.mutate('materialized', SQL.deletePeopleRows(site, [leadUnit(lead), ...visitors.map(visitorUnit)], visitors));
    await this.heatmaps.erase(site, lead, visitors);
    return Number(found.n);
  }

  /** Waits (up to MOVE_WAIT_MS) until the materializer has applied what was logged at `seq`. */
  private async waitFor(seq: number): Promise<void> {
    const deadline = Date.now() + MOVE_WAIT_MS;
    while (Date.now() < deadline) {
      if (this.materializer.active) await this.materializer.step(seq);
      const [progress] = await this.rows(SQL.materializedRows(PROGRESS.site, [PROGRESS.kind], PROGRESS.key, `${PROGRESS.key}\u0000`));
      if (progress && (JSON.parse(String(progress.latest_value)) as { arrival: number }).arrival >= seq) return;
      await sleep(50);
    }
  }

  heatmap(site: string, query: HeatmapQuery): Promise<Heatmap> {
    return this.heatmaps.heatmap(site, query);
  }

  heatmapOfPeople(site: string, query: HeatmapQuery, people: readonly HeatmapPerson[]): Promise<Heatmap> {
    return this.heatmaps.heatmapOfPeople(site, query, people);
  }

  /** Streamed from ClickHouse a block at a time: an export of millions is never held whole. */
  async *exportEvents(site: string, range: TimeRange): AsyncIterable<StoredEvent> {
    for await (const rows of this.stream(SQL.exportEvents(site, range))) {
      for (const row of rows) yield storedEventFromRow(site, row);
    }
  }

  /** ClickHouse deletes by mutation, not by slices: `limit` is not needed to keep commits short. */
  async expireEvents(site: string, beforeMs: number, _limit: number): Promise<number> {
    const [found] = await this.rows(SQL.countEventsBefore(site, beforeMs));
    if (Number(found.n) > 0) await this.mutate('events', SQL.deleteEventsBefore(site, beforeMs));
    const [people] = await this.rows(SQL.countPeopleRowsBefore(site, beforeMs));
    if (Number(people.n) > 0) await this.mutate('materialized', SQL.expirePeopleRows(site, beforeMs));
    await this.heatmaps.expire(site, beforeMs);
    return Number(found.n);
  }

  async putRecord(record: AccountRecord): Promise<void> {
    await this.insert('account_records', [{
      kind: record.kind, id: record.id, body: record.body, expires_at: record.expiresAt ?? 0, deleted: 0, version: this.nextVersion(),
    }]);
  }

  async getRecord(kind: AccountRecordKind, id: string, now: number): Promise<AccountRecord | null> {
    const [row] = await this.rows(SQL.getRecord(kind, id, now));
    return row ? accountRecordFromRow(row) : null;
  }

  async listRecords(kind: AccountRecordKind, now: number): Promise<AccountRecord[]> {
    return (await this.rows(SQL.listRecords(kind, now))).map(accountRecordFromRow);
  }

  async deleteRecord(kind: AccountRecordKind, id: string): Promise<boolean> {
    // Asked at this instant, as SQLite answers; a record that expired is gone either way.
    if (!(await this.getRecord(kind, id, Date.now()))) return false;
    await this.insert('account_records', [{ kind, id, body: '', expires_at: 0, deleted: 1, version: this.nextVersion() }]);
    return true;
  }

  async eraseRecord(kind: AccountRecordKind, id: string): Promise<void> {
    // A tombstone would leave the row underneath until a merge: the mutation rewrites the parts without it.
    await this.mutate('account_records', SQL.eraseRecord(kind, id));
  }

  async deleteExpiredRecords(now: number): Promise<void> {
    // A mutation rewrites parts: run one only when a session has ended since.
    const [expired] = await this.rows(SQL.countExpiredRecords(now));
    if (Number(expired.n) > 0) await this.mutate('account_records', SQL.deleteExpiredRecords(now));
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.insert('audit_log', [{ ...entry, site: entry.site ?? '', target: entry.target ?? '' }]);
  }

  async listAudit(beforeMs: number, limit: number): Promise<AuditEntry[]> {
    return (await this.rows(SQL.listAudit(beforeMs, limit))).map(auditEntryFromRow);
  }

  async getSetting(key: string): Promise<string | null> {
    return this.smallest(SQL.getSetting(key), 'value');
  }

  async setSettingOnce(key: string, value: string): Promise<string> {
    const existing = await this.getSetting(key);
    if (existing !== null) return existing;
    await this.insert('settings', [{ key, value }]);
    await sleep(SETTLE_MS);
    return (await this.getSetting(key)) ?? value;
  }

  async close(): Promise<void> {
    await this.materializer.close().catch(() => {});
    await this.sql.close();
  }

  /** Microseconds of this collector's clock, never repeating: the order of arrival of events. */
  private nextArrival(): number {
    this.lastArrival = Math.max(Date.now() * 1000, this.lastArrival + 1);
    return this.lastArrival;
  }

  private nextVersion(): number {
    this.lastVersion = Math.max(Date.now(), this.lastVersion + 1);
    return this.lastVersion;
  }

  /** The value of a `min(x) AS column, count() AS n` query, or null when there are no rows. */
  private async smallest(query: string, column: string): Promise<string | null> {
    const [row] = await this.rows(query);
    return Number(row?.n ?? 0) > 0 ? String(row[column]) : null;
  }
}
