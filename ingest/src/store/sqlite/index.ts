// The embedded store: one SQLite file in WAL mode, written by one connection with prepared
// statements; each group commit is one transaction.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { PropValue, StoredEvent } from '../../event.js';
import type { ReportOptions, Site, Stats, Store, StoredFunnel, TimeRange, WriteBatch } from '../types.js';
import { parseFunnelDefinition, type FunnelDefinition, type ParsedFunnel } from '../../funnel/definition.js';
import type { FunnelReport } from '../../funnel/report.js';
import { FunnelIndex, toIndexedEvent, type IndexedEvent } from '../funnelIndex.js';
import { MIGRATIONS, SQL } from './sql.js';
import { utcDay } from '../../time.js';
import { Checkpointer } from './checkpointer.js';

export interface SqliteOptions {
  /**
   * NORMAL (default) survives a crash of the process, kill -9 included: a WAL commit is in
   * the OS before we acknowledge. FULL also survives power loss, at an fsync per commit.
   */
  synchronous?: 'NORMAL' | 'FULL';
}

type Row = Record<string, unknown>;

function eventRow(e: StoredEvent): unknown[] {
  return [
    e.site, e.id, e.client_ts, e.ts, e.name, e.visitor, e.session, e.lead, e.url, e.path, e.landing,
    e.referrer, e.channel, e.source, e.medium, e.campaign, e.term, e.content, e.browser, e.os,
    e.device, e.props ? JSON.stringify(e.props) : null, e.revenue_amount, e.revenue_currency,
    e.engaged_ms, e.scroll, e.variant,
  ];
}

function funnelFromRow(row: Row): StoredFunnel {
  return {
    site: String(row.site),
    id: String(row.id),
    definition: JSON.parse(String(row.definition)) as FunnelDefinition,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** Definitions were validated before they were stored; one that no longer parses is a bug. */
function parsed(definition: FunnelDefinition): ParsedFunnel {
  const result = parseFunnelDefinition(definition);
  if (!result.ok) throw new Error(`stored funnel no longer valid: ${result.field}: ${result.error}`);
  return result.funnel;
}

const funnelKey = (site: string, id: string) => `${site}\n${id}`;

function siteFromRow(row: Row): Site {
  return {
    domain: String(row.domain),
    origins: JSON.parse(String(row.origins)) as string[],
    allowedParams: JSON.parse(String(row.allowed_params)) as string[],
    createdAt: Number(row.created_at),
  };
}

export class SqliteStore implements Store {
  readonly db: Database.Database;
  private readonly statements: { [K in keyof typeof SQL]: Database.Statement };
  private readonly writeTransaction: (batch: WriteBatch) => StoredEvent[];
  private readonly checkpointer: Checkpointer | null;
  private readonly funnels = new FunnelIndex();
  private readonly refreshTimer: NodeJS.Timeout;

  constructor(file: string, options: SqliteOptions = {}) {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    // Waiting on a lock blocks the event loop, so wait briefly and answer 503 instead.
    this.db.pragma('busy_timeout = 200');
    // A larger page cache keeps the right edges of the hot indexes in memory.
    this.db.pragma('cache_size = -65536');
    this.migrate();
    // In-memory databases have no WAL to checkpoint.
    this.checkpointer = file === ':memory:' ? null : new Checkpointer(file);
    if (this.checkpointer) this.db.pragma('wal_autocheckpoint = 0');
    this.statements = Object.fromEntries(
      Object.entries(SQL).map(([name, sql]) => [name, this.db.prepare(sql)]),
    ) as { [K in keyof typeof SQL]: Database.Statement };
    const { insertEvent, addBots } = this.statements;
    // Returns the events actually inserted: a duplicate (ignored) must not reach the funnels twice.
    this.writeTransaction = this.db.transaction((batch: WriteBatch) => {
      const inserted: StoredEvent[] = [];
      for (const event of batch.events) if (insertEvent.run(eventRow(event)).changes === 1) inserted.push(event);
      for (const b of batch.bots) addBots.run(b.site, b.day, b.count);
      return inserted;
    });
    this.loadFunnelIndex();
    // Matching changed units in the background keeps reports from doing it.
    this.refreshTimer = setInterval(() => this.funnels.refresh(), 1000);
    this.refreshTimer.unref();
  }

  /** Back-fills the in-memory funnel index from the events on disk. */
  private loadFunnelIndex(): void {
    for (const row of this.statements.scanFunnelEvents.iterate() as IterableIterator<Row>) {
      const event = { ...row, props: row.props === null ? null : (JSON.parse(String(row.props)) as Record<string, PropValue>) };
      this.funnels.add(String(row.site), event as unknown as IndexedEvent);
    }
    for (const funnel of (this.statements.allFunnels.all() as Row[]).map(funnelFromRow)) {
      this.funnels.setFunnel(funnelKey(funnel.site, funnel.id), funnel.site, parsed(funnel.definition));
    }
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
    for (const event of this.writeTransaction(batch)) this.funnels.add(event.site, toIndexedEvent(event));
  }

  async createSite(site: Site): Promise<boolean> {
    const result = this.statements.insertSite.run(
      site.domain, JSON.stringify(site.origins), JSON.stringify(site.allowedParams), site.createdAt,
    );
    return result.changes === 1;
  }

  async updateSite(site: Site): Promise<void> {
    this.statements.updateSite.run(JSON.stringify(site.origins), JSON.stringify(site.allowedParams), site.domain);
  }

  async listSites(): Promise<Site[]> {
    return (this.statements.listSites.all() as Row[]).map(siteFromRow);
  }

  async stats(site: string, range: TimeRange): Promise<Stats> {
    const e = this.statements.eventStats.get(site, range.fromMs, range.toMs) as Row;
    const b = this.statements.botStats.get(site, utcDay(range.fromMs), utcDay(range.toMs - 1)) as Row;
    return {
      visitors: Number(e.visitors),
      pageviews: Number(e.pageviews),
      events: Number(e.events),
      bots: Number(b.bots),
    };
  }

  async putFunnel(funnel: StoredFunnel): Promise<void> {
    const definition = parsed(funnel.definition);
    this.statements.upsertFunnel.run(funnel.site, funnel.id, JSON.stringify(funnel.definition), funnel.createdAt, funnel.updatedAt);
    this.funnels.setFunnel(funnelKey(funnel.site, funnel.id), funnel.site, definition);
  }

  async listFunnels(site: string): Promise<StoredFunnel[]> {
    return (this.statements.listFunnels.all(site) as Row[]).map(funnelFromRow);
  }

  async deleteFunnel(site: string, id: string): Promise<boolean> {
    this.funnels.deleteFunnel(funnelKey(site, id));
    return this.statements.deleteFunnel.run(site, id).changes === 1;
  }

  async funnelReport(site: string, id: string, range: TimeRange, options: ReportOptions): Promise<FunnelReport | null> {
    return this.funnels.report(funnelKey(site, id), range, options);
  }

  async previewFunnel(site: string, funnel: ParsedFunnel, range: TimeRange, options: ReportOptions): Promise<FunnelReport> {
    return this.funnels.preview(site, funnel, range, options);
  }

  async dailySalt(day: string, candidate: string): Promise<string> {
    this.statements.insertSalt.run(day, candidate);
    return String((this.statements.getSalt.get(day) as Row).salt);
  }

  async deleteSaltsBefore(keepFromDay: string): Promise<void> {
    this.statements.deleteSaltsBefore.run(keepFromDay);
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
    clearInterval(this.refreshTimer);
    this.db.close();
    await this.checkpointer?.close();
  }
}

