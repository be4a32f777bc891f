// The narrow interface every storage engine implements (SQLite embedded, ClickHouse scale-out).
// Both are held to the same conformance suite: same inputs, same numbers.
import type { StoredEvent } from '../event.js';
import type { FunnelDefinition, ParsedFunnel } from '../funnel/definition.js';
import type { BreakdownDimension, FunnelReport } from '../funnel/report.js';
import type { LeadRecord, StageMove, StageMoveResult } from '../leads/lead.js';
import type { ScoringRules } from '../leads/scoring.js';
import type { WebhookConfig } from '../leads/webhook.js';
import type { OutboundTarget } from '../leads/outbound.js';
import type { HubSpotConfig, PipedriveConfig } from '../crm/config.js';
import type { CorrelationQuestion, FactorCounts, PeopleCursor, PeopleFilter, PersonRow } from '../funnel/people.js';
import type { Heatmap, HeatmapDevice, HeatmapPerson } from '../heatmaps/capture.js';

export interface Site {
  domain: string;
  /** Origins (scheme://host[:port]) allowed to send events for this site from a browser. */
  origins: string[];
  /** Query parameters kept in stored URLs besides utm_*. */
  allowedParams: string[];
  createdAt: number;
  /** Events older than this many days are deleted by the retention job; null keeps them. */
  retentionDays?: number | null;
}

/** Bots dropped at ingest, counted per site and UTC day. */
export interface BotCount {
  site: string;
  day: string;
  count: number;
}

/** What one group commit writes: events and the bots dropped since the last commit. */
export interface WriteBatch {
  events: StoredEvent[];
  bots: BotCount[];
  /**
   * The de-duplication key of each event, fixed by the spool (ingestion/spool.ts) so that a
   * batch shipped twice is stored once; ClickHouse makes them when absent, SQLite has no use for them.
   */
  keys?: string[];
}

export interface Stats {
  visitors: number;
  pageviews: number;
  events: number;
  bots: number;
}

/** A UTC date range, both ends included, as epoch ms [fromMs, toMs). */
export interface TimeRange {
  fromMs: number;
  toMs: number;
}

/** A heatmap asked for (CONTRACT.md, "Heatmaps"): a path pattern (`*` any run), a device class (null: all), UTC days. */
export interface HeatmapQuery {
  path: string;
  device: HeatmapDevice | null;
  range: TimeRange;
}

export interface StoredFunnel {
  site: string;
  id: string;
  definition: FunnelDefinition;
  createdAt: number;
  updatedAt: number;
}

/** A saved funnel's report, with how current it is (CONTRACT.md, "Report: more fields"). */
export type SavedFunnelReport = FunnelReport & {
  /** Epoch ms up to which acknowledged events are in the report; null while it is being back-filled. */
  fresh_until: number | null;
  /** While a new or edited funnel is computed over history: how far (the report is partial). */
  backfill: { done: number } | null;
};

export interface ReportOptions {
  /** The clock that decides which windows are still open (in_flight). */
  now: number;
  breakdown?: BreakdownDimension;
}

/** A page of a funnel's people list: the entries of a range that match a filter, after a cursor. */
export interface PeopleQuery extends PeopleFilter {
  limit: number;
  after: PeopleCursor | null;
}

export interface PeoplePage {
  rows: PersonRow[];
  /** Whether more rows follow the page. */
  more: boolean;
}

/** A site's lead settings: scoring rules, the outgoing webhook and the CRM connectors (null: none). */
export interface LeadSettings {
  scoring: ScoringRules | null;
  webhook: WebhookConfig | null;
  hubspot: HubSpotConfig | null;
  pipedrive: PipedriveConfig | null;
}

/** A pending delivery in the outbox (leads/outbound.ts): the exact body, for one target. */
export interface WebhookDelivery {
  id: string;
  site: string;
  /** The lead it is about: a CRM delivery looks up the lead's contact ids by it. */
  lead: string;
  target: OutboundTarget;
  type: string;
  body: string;
  /** Failed attempts so far. */
  attempts: number;
  nextAt: number;
  createdAt: number;
}

export type DeliveryOutcome =
  | { status: 'delivered' }
  | { status: 'retry'; at: number; error: string }
  /** Not attempted (its target is paused): due again at `at`, no attempt counted. */
  | { status: 'hold'; at: number; error: string }
  | { status: 'failed'; error: string };

/**
 * The kinds of small records the store keeps for others: accounts (accounts/: users, sessions,
 * API keys, shared links) and CRM connectors (crm/: a lead's ids in each CRM and the way back,
 * an e-mail waiting for its delivery, each connector's last outcome, inbound webhooks seen).
 */
export type AccountRecordKind = 'user' | 'session' | 'key' | 'share' | 'crm_contact' | 'crm_ref' | 'crm_email' | 'crm_status' | 'crm_seen';

/** One account record: a JSON body the accounts module reads and writes whole (the store only keeps it). */
export interface AccountRecord {
  kind: AccountRecordKind;
  id: string;
  body: string;
  /** Epoch ms after which the record is gone (a session); null: kept until deleted. */
  expiresAt: number | null;
}

/** One line of the audit log: who changed what. */
export interface AuditEntry {
  at: number;
  /** `owner`, `user:EMAIL` or `key:NAME`. */
  actor: string;
  /** What was done, as `object.verb`: `funnel.save`, `user.delete`, `visitor.erase`, … */
  action: string;
  site: string | null;
  /** What it was done to (a funnel id, a user's e-mail, …), if anything. */
  target: string | null;
}

export interface Store {
  /** Durably writes a batch (one transaction); resolves only once committed. Duplicate ids are ignored. */
  write(batch: WriteBatch): Promise<void>;
  /**
   * The longest a group commit may wait for more events to join it, in ms (the write queue's
   * `maxGatherMs`): set by a store whose commit costs a round trip per insert (ClickHouse).
   */
  readonly commitGatherMs?: number;
  /**
   * Writes events brought from elsewhere (an import: a backup restored, another tool's history),
   * of any age, as `write` does; events older than the funnels' open horizon make the site's
   * funnels back-fill again. Returns how many were new and how many were already stored.
   */
  importEvents(events: readonly StoredEvent[]): Promise<{ imported: number; duplicates: number }>;

  createSite(site: Site): Promise<boolean>;
  updateSite(site: Site): Promise<void>;
  listSites(): Promise<Site[]>;

  stats(site: string, range: TimeRange): Promise<Stats>;

  /** Erases every event of one visitor and its link to a lead; returns the events deleted. */
  deleteVisitor(site: string, visitor: string): Promise<number>;
  /** Erases a lead: its events and those of the visitors it was identified as, its stages and webhooks. */
  deleteLead(site: string, lead: string): Promise<number>;
  /** The site's events whose time is in the range, oldest first, as stored. */
  exportEvents(site: string, range: TimeRange): AsyncIterable<StoredEvent>;
  /** Deletes at most `limit` of the site's oldest events before `beforeMs`; returns how many. */
  expireEvents(site: string, beforeMs: number, limit: number): Promise<number>;

  /** Clicks per selector and scroll reach of a page's heatmapped pageviews (the aggregates written at ingest). */
  heatmap(site: string, query: HeatmapQuery): Promise<Heatmap>;
  /** The same over only these people's pageviews, each inside its span (the funnel split). */
  heatmapOfPeople(site: string, query: HeatmapQuery, people: readonly HeatmapPerson[]): Promise<Heatmap>;

  /** Creates or replaces a funnel; its report covers events stored before it existed. */
  putFunnel(funnel: StoredFunnel): Promise<void>;
  listFunnels(site: string): Promise<StoredFunnel[]>;
  deleteFunnel(site: string, id: string): Promise<boolean>;
  /**
   * The report of a saved funnel over entries whose step 1 falls in the range; null when there is
   * no such funnel. Throws FunnelsWarmingUp when the live state is still being restored after a start.
   */
  funnelReport(site: string, id: string, range: TimeRange, options: ReportOptions): Promise<SavedFunnelReport | null>;
  /**
   * A page of a saved funnel's people (entries whose step 1 falls in the range), in entry order;
   * null when there is no such funnel. Counts agree with `funnelReport` at the same `now`.
   */
  funnelPeople(site: string, id: string, range: TimeRange, query: PeopleQuery): Promise<PeoplePage | null>;
  /** Per factor, the entries of the range that went on or stopped (correlation); null when there is no such funnel. */
  funnelFactors(site: string, id: string, range: TimeRange, question: CorrelationQuestion): Promise<FactorCounts | null>;
  /** A visitor's own events in time order (those it made as a lead included), at most `limit`. */
  visitorEvents(site: string, visitor: string, limit: number): Promise<StoredEvent[]>;
  /** The report a definition would have, without saving it (the editor's preview). */
  previewFunnel(site: string, funnel: ParsedFunnel, range: TimeRange, options: ReportOptions): Promise<FunnelReport>;

  /** The salt for a UTC day, made once and shared by every collector on this store. */
  dailySalt(day: string, candidate: string): Promise<string>;
  /** Deletes salts of days before `keepFromDay`, so old visitor keys cannot be recomputed. */
  deleteSaltsBefore(keepFromDay: string): Promise<void>;

  /** Scoring rules and webhook of a site (both null when never set). */
  getLeadSettings(site: string): Promise<LeadSettings>;
  /**
   * Sets the settings given (null clears one). New scoring rules score the site's leads again
   * from their events (a lead still in `lead` that now reaches the threshold becomes an MQL,
   * queueing its webhook); removing the webhook or a CRM connector drops its pending deliveries.
   */
  putLeadSettings(site: string, settings: Partial<LeadSettings>): Promise<void>;
  /**
   * Every lead of a site with its stage history, current with the events written (SQLite scores
   * them at ingest; ClickHouse replays them from the shared log when asked).
   */
  leads(site: string): Promise<LeadRecord[]>;
  /** A lead's events in time order (the anonymous ones of the visit it was named in included), at most `limit`. */
  leadEvents(site: string, lead: string, limit: number): Promise<StoredEvent[]>;
  /** A sales-side stage move, checked against the stage machine; a change is stored with its webhook delivery. */
  moveLeadStage(site: string, lead: string, move: StageMove): Promise<StageMoveResult>;
  /** Deliveries due at `now`, oldest first; a lead's deliveries to one target go in order (one waits while an earlier one is pending). */
  dueWebhookDeliveries(now: number, limit: number): Promise<WebhookDelivery[]>;
  settleWebhookDelivery(id: string, outcome: DeliveryOutcome): Promise<void>;

  /** Creates or replaces an account record. */
  putRecord(record: AccountRecord): Promise<void>;
  /** The record, or null when there is none or it expired before `now`. */
  getRecord(kind: AccountRecordKind, id: string, now: number): Promise<AccountRecord | null>;
  /** Every record of a kind not expired before `now`, by id. */
  listRecords(kind: AccountRecordKind, now: number): Promise<AccountRecord[]>;
  /** Deletes a record; false when there was none. */
  deleteRecord(kind: AccountRecordKind, id: string): Promise<boolean>;
  /** Deletes a record and the bytes that held it (an e-mail): none are left in a log or an older part. */
  eraseRecord(kind: AccountRecordKind, id: string): Promise<void>;
  /** Deletes records that expired before `now` (ended sessions). */
  deleteExpiredRecords(now: number): Promise<void>;
  /** Durably appends to the audit log. */
  appendAudit(entry: AuditEntry): Promise<void>;
  /** The latest `limit` audit entries before `beforeMs`, newest first. */
  listAudit(beforeMs: number, limit: number): Promise<AuditEntry[]>;

  getSetting(key: string): Promise<string | null>;
  /** Sets the key if it has no value yet; returns the value that holds. */
  setSettingOnce(key: string, value: string): Promise<string>;

  /** Resolves once the funnels' background work (restoring, back-filling, making windows final) has caught up: for tests and benchmarks. */
  settled(): Promise<void>;

  close(): Promise<void>;
}
