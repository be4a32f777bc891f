// The embedded store: one SQLite file in WAL mode, written by one connection with prepared
// statements; each group commit is one transaction.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { PropValue, StoredEvent } from '../../event.js';
import type {
  AccountRecord, AccountRecordKind, AuditEntry, DeliveryOutcome, HeatmapQuery, LeadSettings, PeoplePage, PeopleQuery, ReportOptions, SavedFunnelReport, Site, Stats, Store, StoredFunnel, TimeRange, WebhookDelivery, WriteBatch,
} from '../types.js';
import type { ParsedFunnel } from '../../funnel/definition.js';
import type { FunnelReport } from '../../funnel/report.js';
import type { LiveInput } from '../../funnel/liveUnits.js';
import { FunnelRuntime } from '../funnelRuntime.js';
import { addFactorAggregate, countFactors, emptyFactorCounts, matchesPeople, peoplePage, type CorrelationQuestion, type FactorCounts } from '../../funnel/people.js';
import { SqliteFunnelStorage } from './funnels.js';
import { SqliteHeatmaps } from './heatmaps.js';
import type { Heatmap, HeatmapPerson } from '../../heatmaps/capture.js';
import { MIGRATIONS, SQL } from './sql.js';
import { utcDay } from '../../time.js';
import { Checkpointer } from './checkpointer.js';
import { accountRecordFromRow, auditEntryFromRow, funnelFromRow, siteFromRow, statsFromRows, type Row } from '../rows.js';
import { LeadTracker, BUFFER_MS, type LeadUpdate, type NewStageChange } from '../../leads/tracker.js';
import { cloneLead, type LeadRecord, type StageChange, type StageMove, type StageMoveResult } from '../../leads/lead.js';
import { parseScoringRules, type ScoringRules } from '../../leads/scoring.js';
import { webhookPayload, type WebhookConfig } from '../../leads/webhook.js';
import { OUTBOUND_TARGETS, targetsFor, type OutboundTarget } from '../../leads/outbound.js';
import type { HubSpotConfig, PipedriveConfig } from '../../crm/config.js';
import type { LeadStage } from '../../leads/stages.js';

export interface SqliteOptions {
  /**
   * NORMAL (default) survives a crash of the process, kill -9 included: a WAL commit is in
   * the OS before we acknowledge. FULL also survives power loss, at an fsync per commit.
   */
  synchronous?: 'NORMAL' | 'FULL';
}


function eventRow(e: StoredEvent): unknown[] {
  return [
    e.site, e.id, e.client_ts, e.ts, e.name, e.visitor, e.session, e.lead, e.url, e.path, e.landing,
    e.referrer, e.channel, e.source, e.medium, e.campaign, e.term, e.content, e.browser, e.os,
    e.device, e.props ? JSON.stringify(e.props) : null, e.revenue_amount, e.revenue_currency,
    e.engaged_ms, e.scroll, e.variant,
  ];
}


function eventFromRow(row: Row): StoredEvent {
  return { ...row, props: row.props === null ? null : (JSON.parse(String(row.props)) as Record<string, PropValue>) } as unknown as StoredEvent;
}

/** What the funnels read of a stored event; its rowid is its order of arrival. */
function liveInputOf(e: StoredEvent, rowid: number): LiveInput {
  return {
    arrival: rowid, ts: e.ts, name: e.name, path: e.path, props: e.props, channel: e.channel, source: e.source, medium: e.medium,
    campaign: e.campaign, device: e.device, browser: e.browser, variant: e.variant, landing: e.landing,
    revenue_amount: e.revenue_amount, revenue_currency: e.revenue_currency, engaged_ms: e.engaged_ms, scroll: e.scroll,
    session: e.session, visitor: e.visitor, lead: e.lead,
  };
}

/** Scoring rules were validated before they were stored; rules that no longer parse are a bug. */
function parsedScoring(rules: ScoringRules) {
  const result = parseScoringRules(rules);
  if (!result.ok) throw new Error(`stored scoring rules no longer valid: ${result.field}: ${result.error}`);
  return result.rules;
}

function leadFromRow(row: Row): LeadRecord {
  return {
    site: String(row.site),
    lead: String(row.lead),
    stage: String(row.stage) as LeadStage,
    stageAt: Number(row.stage_at),
    score: { value: Number(row.score), at: Number(row.score_at) },
    createdAt: Number(row.created_at),
    firstSeen: Number(row.first_seen),
    lastSeen: Number(row.last_seen),
    entry: {
      channel: String(row.channel),
      source: row.source === null ? null : String(row.source),
      medium: row.medium === null ? null : String(row.medium),
      campaign: row.campaign === null ? null : String(row.campaign),
      term: row.term === null ? null : String(row.term),
      landing: String(row.landing),
    },
    changes: [],
  };
}

function changeFromRow(row: Row): StageChange {
  return {
    stage: String(row.stage) as LeadStage,
    from: row.from_stage === null ? null : (String(row.from_stage) as LeadStage),
    at: Number(row.at),
    amount: row.amount === null ? null : Number(row.amount),
    currency: row.currency === null ? null : String(row.currency),
    by: String(row.by) as StageChange['by'],
  };
}


export class SqliteStore implements Store {
  readonly db: Database.Database;
  private readonly statements: { [K in keyof typeof SQL]: Database.Statement };
  private readonly writeTransaction: (batch: WriteBatch) => { event: StoredEvent; ref: number }[];
  private readonly checkpointer: Checkpointer | null;
  private readonly funnelStorage: SqliteFunnelStorage;
  /** The materialized funnels: final days on disk, open windows in memory. */
  private readonly funnels: FunnelRuntime;
  private readonly started: Promise<void>;
  /** Lead identity, scores and stages, kept in memory so ingestion never reads them back. */
  private leadTracker = new LeadTracker<number>();
  private readonly heatmaps: SqliteHeatmaps;
  /** site → its webhook and CRM connectors: a stage change queues a delivery per target it has. */
  private readonly outbound = new Map<string, Omit<LeadSettings, 'scoring'>>();

  constructor(file: string, options: SqliteOptions = {}) {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    // Waiting on a lock blocks the event loop, so wait briefly and answer 503 instead.
    this.db.pragma('busy_timeout = 200');
    // 16 MiB of page cache keeps the right edges of the hot indexes in memory; reports never read events.
    this.db.pragma('cache_size = -16384');
    // Erasing a person must erase the bytes: deleted rows are zeroed, not left in free pages.
    this.db.pragma('secure_delete = ON');
    this.migrate();
    // In-memory databases have no WAL to checkpoint.
    this.checkpointer = file === ':memory:' ? null : new Checkpointer(file);
    if (this.checkpointer) this.db.pragma('wal_autocheckpoint = 0');
    this.statements = Object.fromEntries(
      Object.entries(SQL).map(([name, sql]) => [name, this.db.prepare(sql)]),
    ) as { [K in keyof typeof SQL]: Database.Statement };
    const { insertEvent, addBots } = this.statements;
    this.heatmaps = new SqliteHeatmaps(this.db);
    // Returns the events actually inserted: a duplicate (ignored) must not reach the funnels
    // twice, nor score twice. Lead rows are written in the same transaction as their events.
    // Returns the events actually inserted, with their rowids (their order of arrival).
    this.writeTransaction = this.db.transaction((batch: WriteBatch) => {
      const observed: { event: StoredEvent; ref: number }[] = [];
      for (const event of batch.events) {
        const result = insertEvent.run(eventRow(event));
        if (result.changes !== 1) continue;
        observed.push({ event, ref: Number(result.lastInsertRowid) });
        this.heatmaps.record(event);
      }
      for (const b of batch.bots) addBots.run(b.site, b.day, b.count);
      this.persistLeads(this.leadTracker.observe(observed));
      return observed;
    });
    this.loadLeads();
    // Funnels start without reading history: their open windows' events load in the background.
    this.funnelStorage = new SqliteFunnelStorage(this.db, file, this.statements);
    this.funnels = new FunnelRuntime(this.funnelStorage, (error) => console.error('funnels:', error));
    this.started = this.funnels.start((this.statements.allFunnels.all() as Row[]).map(funnelFromRow), this.funnelStorage.lastArrival());
  }

  private migrate(): void {
    const applied = Number(this.db.pragma('user_version', { simple: true }));
    for (let i = applied; i < MIGRATIONS.length; i++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[i]);
        this.db.pragma(`user_version = ${i + 1}`);
      })();
    }
  }

  async write(batch: WriteBatch): Promise<void> {
    this.commit(batch);
  }

  async importEvents(events: readonly StoredEvent[]): Promise<{ imported: number; duplicates: number }> {
    const imported = this.commit({ events: [...events], bots: [] });
    return { imported, duplicates: events.length - imported };
  }

  /** One transaction; the events inserted go to the funnels (old ones make them back-fill). Returns how many were inserted. */
  private commit(batch: WriteBatch): number {
    const inserted = this.leadsGuarded(() => this.writeTransaction(batch));
    for (const { event, ref } of inserted) this.funnels.observe(event.site, liveInputOf(event, ref));
    return inserted.length;
  }

  /** Loads lead settings, leads, identities and the recent anonymous visits into the tracker. */
  private loadLeads(): void {
    const tracker = new LeadTracker<number>();
    this.outbound.clear();
    for (const row of this.statements.allLeadSettings.all() as Row[]) {
      const site = String(row.site);
      if (row.scoring !== null) tracker.setRules(site, parsedScoring(JSON.parse(String(row.scoring)) as ScoringRules));
      const json = (value: unknown) => (value === null ? null : JSON.parse(String(value)));
      this.outbound.set(site, { webhook: json(row.webhook) as WebhookConfig | null, hubspot: json(row.hubspot) as HubSpotConfig | null, pipedrive: json(row.pipedrive) as PipedriveConfig | null });
    }
    const leads = new Map<string, LeadRecord>();
    for (const row of this.statements.allLeads.all() as Row[]) {
      const record = leadFromRow(row);
      leads.set(`${record.site}\n${record.lead}`, record);
    }
    for (const row of this.statements.allStageChanges.iterate() as IterableIterator<Row>) {
      leads.get(`${String(row.site)}\n${String(row.lead)}`)?.changes.push(changeFromRow(row));
    }
    for (const record of leads.values()) tracker.restore(record);
    for (const row of this.statements.allLeadVisitors.iterate() as IterableIterator<Row>) {
      tracker.restoreLink(String(row.site), String(row.visitor), String(row.lead));
    }
    const since = Date.now() - BUFFER_MS;
    for (const site of this.statements.listSites.all() as Row[]) {
      for (const row of this.statements.recentAnonymousEvents.iterate(String(site.domain), since) as IterableIterator<Row>) {
        tracker.restoreAnonymous(eventFromRow(row), Number(row.ref));
      }
    }
    this.leadTracker = tracker;
  }

  /**
   * The tracker changes memory before its rows are written: when the transaction fails, memory
   * is reloaded from what was committed.
   */
  private leadsGuarded<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (this.db.open) this.loadLeads();
      throw error;
    }
  }

  /** Writes what the tracker changed (inside the caller's transaction). */
  private persistLeads(update: LeadUpdate<number>): void {
    const { insertLeadVisitor, insertLeadEvent } = this.statements;
    for (const record of update.leads) this.persistLead(record);
    for (const link of update.links) insertLeadVisitor.run(link.site, link.visitor, link.lead, link.at, link.ref);
    for (const e of update.events) insertLeadEvent.run(e.site, e.lead, e.ref);
    for (const created of update.created) this.queueWebhook(created);
    for (const change of update.changes) this.queueWebhook(change);
  }

  private persistLead(record: LeadRecord): void {
    const { upsertLead, insertStageChange } = this.statements;
    const { entry } = record;
    upsertLead.run(
      record.site, record.lead, record.stage, record.stageAt, record.score.value, record.score.at, record.createdAt,
      record.firstSeen, record.lastSeen, entry.channel, entry.source, entry.medium, entry.campaign, entry.term, entry.landing,
    );
    // Changes are only ever appended, so their position is their key.
    record.changes.forEach((c, seq) =>
      insertStageChange.run(record.site, record.lead, seq, c.stage, c.from, c.at, c.amount, c.currency, c.by));
  }

  private queueWebhook({ record, change }: NewStageChange): void {
    const outbound = this.outbound.get(record.site);
    if (!outbound) return;
    const targets = targetsFor(OUTBOUND_TARGETS.filter((t) => outbound[t] !== null), change);
    if (targets.length === 0) return;
    const payload = webhookPayload(record, change, this.leadTracker.rulesOf(record.site));
    for (const target of targets) {
      this.statements.insertDelivery.run(record.site, record.lead, target, payload.type, JSON.stringify(payload), Date.now(), Date.now());
    }
  }

  async getLeadSettings(site: string): Promise<LeadSettings> {
    const outbound = this.outbound.get(site);
    return {
      scoring: this.leadTracker.rulesOf(site)?.definition ?? null,
      webhook: outbound?.webhook ? { ...outbound.webhook } : null,
      hubspot: outbound?.hubspot ? structuredClone(outbound.hubspot) : null,
      pipedrive: outbound?.pipedrive ? { ...outbound.pipedrive } : null,
    };
  }

  async putLeadSettings(site: string, settings: Partial<LeadSettings>): Promise<void> {
    const { putScoring, dropPendingDeliveries, leadEvents } = this.statements;
    const puts = { webhook: this.statements.putWebhook, hubspot: this.statements.putHubspot, pipedrive: this.statements.putPipedrive };
    this.leadsGuarded(() => this.db.transaction(() => {
      for (const target of OUTBOUND_TARGETS) {
        const value = settings[target];
        if (value === undefined) continue;
        puts[target].run(site, value === null ? null : JSON.stringify(value));
        const outbound = this.outbound.get(site) ?? { webhook: null, hubspot: null, pipedrive: null };
        this.outbound.set(site, { ...outbound, [target]: value === null ? null : structuredClone(value) });
        if (value === null) dropPendingDeliveries.run(site, target);
      }
      if (settings.scoring !== undefined) {
        putScoring.run(site, settings.scoring === null ? null : JSON.stringify(settings.scoring));
        this.leadTracker.setRules(site, settings.scoring === null ? null : parsedScoring(settings.scoring));
        for (const record of this.leadTracker.leadsOf(site)) {
          const events = (leadEvents.all(site, record.lead, -1) as Row[]).map(eventFromRow);
          const change = this.leadTracker.rescore(site, record.lead, events);
          this.persistLead(record);
          if (change) this.queueWebhook(change);
        }
      }
    })());
  }

  async leads(site: string): Promise<LeadRecord[]> {
    return this.leadTracker.leadsOf(site).map(cloneLead);
  }

  async leadEvents(site: string, lead: string, limit: number): Promise<StoredEvent[]> {
    return (this.statements.leadEvents.all(site, lead, limit) as Row[]).map(eventFromRow);
  }

  async moveLeadStage(site: string, lead: string, move: StageMove): Promise<StageMoveResult> {
    const result = this.leadsGuarded(() => this.db.transaction(() => {
      const moved = this.leadTracker.move(site, lead, move);
      if (moved.ok && moved.change) {
        this.persistLead(moved.record);
        this.queueWebhook({ record: moved.record, change: moved.change });
      }
      return moved;
    })());
    return result.ok ? { ...result, record: cloneLead(result.record), change: result.change && { ...result.change } } : result;
  }

  async dueWebhookDeliveries(now: number, limit: number): Promise<WebhookDelivery[]> {
    return (this.statements.dueDeliveries.all(now, limit) as Row[]).map((row) => ({
      id: String(row.id),
      site: String(row.site),
      lead: String(row.lead),
      target: String(row.target) as OutboundTarget,
      type: String(row.type),
      body: String(row.body),
      attempts: Number(row.attempts),
      nextAt: Number(row.next_at),
      createdAt: Number(row.created_at),
    }));
  }

  async settleWebhookDelivery(id: string, outcome: DeliveryOutcome): Promise<void> {
    if (outcome.status === 'delivered') this.statements.deleteDelivery.run(Number(id));
    else if (outcome.status === 'retry') this.statements.retryDelivery.run(outcome.at, outcome.error, Number(id));
    else if (outcome.status === 'hold') this.statements.holdDelivery.run(outcome.at, outcome.error, Number(id));
    else this.statements.failDelivery.run(Date.now(), outcome.error, Number(id));
  }

  async createSite(site: Site): Promise<boolean> {
    const result = this.statements.insertSite.run(
      site.domain, JSON.stringify(site.origins), JSON.stringify(site.allowedParams), site.createdAt, site.retentionDays ?? null,
    );
    return result.changes === 1;
  }

  async updateSite(site: Site): Promise<void> {
    this.statements.updateSite.run(JSON.stringify(site.origins), JSON.stringify(site.allowedParams), site.retentionDays ?? null, site.domain);
  }

  async listSites(): Promise<Site[]> {
    return (this.statements.listSites.all() as Row[]).map(siteFromRow);
  }

  async deleteVisitor(site: string, visitor: string): Promise<number> {
    // The funnels forget first, while an idle unit's events can still be read back.
    await this.started;
    this.funnels.forget(site, { visitors: new Set([visitor]) }, [visitor]);
    const deleted = this.db.transaction(() => {
      this.statements.deleteVisitorTimeline.run(site, visitor);
      this.statements.deleteVisitorLinks.run(site, visitor);
      this.heatmaps.deleteVisitor(site, visitor);
      this.statements.deleteVisitorPeople.run(site, visitor, visitor);
      return this.statements.deleteVisitorEvents.run(site, visitor).changes;
    })();
    this.loadLeads();
    this.purgeWal();
    return deleted;
  }

  async deleteLead(site: string, lead: string): Promise<number> {
    const visitors = new Set((this.statements.visitorsOfLead.all(site, lead) as Row[]).map((r) => String(r.visitor)));
    const naming = new Set((this.statements.leadEventRowids.all(site, lead) as Row[]).map((r) => Number(r.rowid)));
    await this.started;
    this.funnels.forget(site, { visitors, arrivals: naming }, [...visitors]);
    const deleted = this.db.transaction(() => {
      let count = this.statements.deleteLeadEvents.run(site, lead).changes;
      for (const visitor of visitors) {
        this.statements.deleteVisitorTimeline.run(site, visitor);
        count += this.statements.deleteVisitorEvents.run(site, visitor).changes;
        this.statements.deleteVisitorPeople.run(site, visitor, visitor);
      }
      this.statements.deleteLeadPeople.run(site, lead);
      for (const statement of [this.statements.deleteLeadTimeline, this.statements.deleteLeadRow, this.statements.deleteLeadChanges,
        this.statements.deleteLeadLinks, this.statements.deleteLeadOutbox]) statement.run(site, lead);
      this.heatmaps.deleteLead(site, lead, visitors);
      return count;
    })();
    this.loadLeads();
    this.purgeWal();
    return deleted;
  }

  /** After an erasure, the WAL still holds the old pages: copy them home and empty it. */
  private purgeWal(): void {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  async *exportEvents(site: string, range: TimeRange): AsyncIterable<StoredEvent> {
    for (const row of this.statements.exportEvents.iterate(site, range.fromMs, range.toMs) as IterableIterator<Row>) {
      yield eventFromRow(row);
    }
  }

  async expireEvents(site: string, beforeMs: number, limit: number): Promise<number> {
    await this.started;
    this.funnels.forget(site, { before: beforeMs });
    return this.db.transaction(() => {
      this.statements.expireTimeline.run(site, beforeMs, limit);
      this.heatmaps.expire(site, beforeMs, limit);
      this.statements.expirePeople.run(site, beforeMs);
      return this.statements.expireEvents.run(site, beforeMs, limit).changes;
    })();
  }

  async stats(site: string, range: TimeRange): Promise<Stats> {
    const e = this.statements.eventStats.get(site, range.fromMs, range.toMs) as Row;
    const b = this.statements.botStats.get(site, utcDay(range.fromMs), utcDay(range.toMs - 1)) as Row;
    return statsFromRows(e, b);
  }

  async heatmap(site: string, query: HeatmapQuery): Promise<Heatmap> {
    return this.heatmaps.heatmap(site, query);
  }

  async heatmapOfPeople(site: string, query: HeatmapQuery, people: readonly HeatmapPerson[]): Promise<Heatmap> {
    return this.heatmaps.heatmapOfPeople(site, query, people);
  }

  async putFunnel(funnel: StoredFunnel): Promise<void> {
    await this.started;
    this.statements.upsertFunnel.run(funnel.site, funnel.id, JSON.stringify(funnel.definition), funnel.createdAt, funnel.updatedAt);
    await this.funnels.putFunnel(funnel);
  }

  async listFunnels(site: string): Promise<StoredFunnel[]> {
    return (this.statements.listFunnels.all(site) as Row[]).map(funnelFromRow);
  }

  async deleteFunnel(site: string, id: string): Promise<boolean> {
    await this.started;
    await this.funnels.deleteFunnel(site, id);
    return this.statements.deleteFunnel.run(site, id).changes === 1;
  }

  async funnelReport(site: string, id: string, range: TimeRange, options: ReportOptions): Promise<SavedFunnelReport | null> {
    await this.started;
    return this.funnels.report(site, id, range, options);
  }

  async funnelPeople(site: string, id: string, range: TimeRange, query: PeopleQuery): Promise<PeoplePage | null> {
    await this.started;
    const live = this.funnels.livePeople(site, id, range);
    if (live === null) return null;
    const liveRows = [...live].filter((row) => matchesPeople(row, query));
    return peoplePage([this.funnelStorage.finalPeople(site, id, range, query), liveRows], query.after, query.limit);
  }

  async funnelFactors(site: string, id: string, range: TimeRange, question: CorrelationQuestion): Promise<FactorCounts | null> {
    await this.started;
    const live = this.funnels.livePeople(site, id, range);
    if (live === null) return null;
    const counts = emptyFactorCounts();
    for (const aggregate of this.funnelStorage.finalFactors(site, id, range)) addFactorAggregate(counts, aggregate, question);
    return countFactors(counts, live, question);
  }

  async visitorEvents(site: string, visitor: string, limit: number): Promise<StoredEvent[]> {
    return (this.statements.visitorEvents.all(site, visitor, limit) as Row[]).map(eventFromRow);
  }

  /** Matched in a worker thread from the events of the preview's span (funnel/preview.ts). */
  async previewFunnel(site: string, funnel: ParsedFunnel, range: TimeRange, options: ReportOptions): Promise<FunnelReport> {
    return this.funnelStorage.preview({ kind: 'preview', site, definition: funnel.definition, range, now: options.now, breakdown: options.breakdown });
  }

  async settled(): Promise<void> {
    await this.started;
    await this.funnels.idle();
  }

  async dailySalt(day: string, candidate: string): Promise<string> {
    this.statements.insertSalt.run(day, candidate);
    return String((this.statements.getSalt.get(day) as Row).salt);
  }

  async deleteSaltsBefore(keepFromDay: string): Promise<void> {
    this.statements.deleteSaltsBefore.run(keepFromDay);
  }

  async putRecord(record: AccountRecord): Promise<void> {
    this.statements.putRecord.run(record.kind, record.id, record.body, record.expiresAt);
  }

  async getRecord(kind: AccountRecordKind, id: string, now: number): Promise<AccountRecord | null> {
    const row = this.statements.getRecord.get(kind, id, now) as Row | undefined;
    return row ? accountRecordFromRow(row) : null;
  }

  async listRecords(kind: AccountRecordKind, now: number): Promise<AccountRecord[]> {
    return (this.statements.listRecords.all(kind, now) as Row[]).map(accountRecordFromRow);
  }

  async deleteRecord(kind: AccountRecordKind, id: string): Promise<boolean> {
    return this.statements.deleteRecord.run(kind, id).changes > 0;
  }

  async eraseRecord(kind: AccountRecordKind, id: string): Promise<void> {
    if (this.statements.deleteRecord.run(kind, id).changes > 0) this.purgeWal();
  }

  async deleteExpiredRecords(now: number): Promise<void> {
    this.statements.deleteExpiredRecords.run(now);
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    this.statements.appendAudit.run(entry.at, entry.actor, entry.action, entry.site, entry.target);
  }

  async listAudit(beforeMs: number, limit: number): Promise<AuditEntry[]> {
    return (this.statements.listAudit.all(beforeMs, limit) as Row[]).map(auditEntryFromRow);
  }

  async getSetting(key: string): Promise<string | null> {
    const row = this.statements.getSetting.get(key) as Row | undefined;
    return row ? String(row.value) : null;
  }

  async setSettingOnce(key: string, value: string): Promise<string> {
    this.statements.insertSetting.run(key, value);
    return (await this.getSetting(key)) ?? value;
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    await this.started.catch(() => undefined);
    await this.funnels.close();
    this.db.close();
    await this.checkpointer?.close();
  }
}

