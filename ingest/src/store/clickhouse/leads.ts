// Leads on ClickHouse. The collector holding the materializer lease applies the shared log to
// each site's LeadReplay (leads/replay.ts: the tracker SQLite runs at ingest) and writes what
// changed as rows of `materialized`, in the same INSERT as the funnels' step: each lead's record,
// the events of its timeline (by key), webhook deliveries (named by their cause), and the answer
// to each stage move. Every collector reads leads, timelines and move answers from those rows.
import type { StoredEvent } from '../../event.js';
import type { LeadRecord, StageMove, StageMoveResult } from '../../leads/lead.js';
import { LeadReplay, orderOperations, type LeadHistory, type LeadOperation } from '../../leads/replay.js';
import type { ScoringRules } from '../../leads/scoring.js';
import type { SalesStage } from '../../leads/stages.js';
import { BUFFER_MS, type TrackedEvent } from '../../leads/tracker.js';
import { OUTBOUND_TARGETS, targetDeliveryId, type OutboundTarget } from '../../leads/outbound.js';
import type { Row } from '../rows.js';
import type { ClickHouseIo, MaterializedKind } from './funnels.js';
import { siteLinks } from './funnels.js';
import * as SQL from './sql.js';
import { groupBy } from '../../groupBy.js';

/** An event as the lead tracker reads it, with the key that finds it whole again. */
export type LeadEvent = TrackedEvent & { client_ts: number; dedupe_key: string; arrival: number };

/** Rows to write, as the materializer stages them (funnels.ts `stage`). */
export type Stage = (site: string, kind: MaterializedKind, key: string, value: string, deleted?: boolean) => void;

const text = (v: unknown) => (v === null ? null : String(v));

/** A row with the lead tracker's columns (ts, LEAD_EVENT_COLUMNS) as a LeadEvent. */
export function leadEventOf(site: string, row: Row): LeadEvent {
  return {
    site, ts: Number(row.ts), name: String(row.name), path: String(row.path),
    props: row.props === null ? null : (JSON.parse(String(row.props)) as StoredEvent['props']),
    channel: String(row.channel), source: text(row.source), medium: text(row.medium), campaign: text(row.campaign),
    term: text(row.term), landing: String(row.landing), visitor: String(row.visitor), session: String(row.session),
    lead: text(row.lead), client_ts: Number(row.client_ts), dedupe_key: String(row.dedupe_key), arrival: Number(row.arrival),
  };
}

/** Timeline rows are keyed by lead, then arrival (fixed width, so keys sort by it), then the event's key. */
const timelineKey = (lead: string, e: LeadEvent) => `${lead}\n${String(e.arrival).padStart(20, '0')}\n${e.client_ts}\n${e.dedupe_key}`;
const deliveryKey = (lead: string, id: string) => `${lead}\n${id}`;

/** A lead's events as stored, in (ts, arrival) order, from the keys of its timeline. */
export async function timelineEvents(io: ClickHouseIo, site: string, keys: readonly { clientTs: number; dedupeKey: string }[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (let i = 0; i < keys.length; i += 1_000) rows.push(...(await io.rows(SQL.eventsByKey(site, keys.slice(i, i + 1_000)))));
  return rows.sort((a, b) => Number(a.ts) - Number(b.ts) || Number(a.arrival) - Number(b.arrival));
}

/** The keys of a lead's timeline, from its rows. */
export async function timelineKeys(io: ClickHouseIo, site: string, lead: string): Promise<{ clientTs: number; dedupeKey: string }[]> {
  const rows = await io.rows(SQL.materializedRows(site, ['lead_event'], `${lead}\n`, `${lead}\n\uffff`));
  return rows.filter((row) => Number(row.latest_deleted) === 0).map((row) => {
    const [, , clientTs, ...rest] = String(row.key).split('\n');
    return { clientTs: Number(clientTs), dedupeKey: rest.join('\n') };
  });
}

const byLead = (a: LeadRecord, b: LeadRecord) => (a.lead < b.lead ? -1 : a.lead > b.lead ? 1 : 0);

export async function storedLeads(io: ClickHouseIo, site: string): Promise<LeadRecord[]> {
  const rows = await io.rows(SQL.materializedRows(site, ['lead'], '', '\uffff'));
  return rows.filter((row) => Number(row.latest_deleted) === 0).map((row) => JSON.parse(String(row.latest_value)) as LeadRecord).sort(byLead);
}

/** Sites whose lead records a collector keeps (the most recently read). */
const CACHED_SITES = 8;

interface CachedLeads {
  /** The highest `seq` read: every lead row at or below it is in `records` (the materializer inserts one step at a time). */
  seq: number;
  /** Lead → its record, or null once erased (the tombstone's key still has rows until the mutation removes them). */
  records: Map<string, LeadRecord | null>;
  sorted: LeadRecord[] | null;
}

/**
 * The lead list as any collector reads it, kept per site and brought up to date with only the
 * rows written since (a list of 170k leads costs seconds to read whole, its changes milliseconds).
 * An erasure removes a lead's rows by mutation, tombstone included: when the site then has fewer
 * lead keys than are held, the list is read whole again. Like the rows' own order, this relies on
 * a new lease holder's clock writing above the last one's (the lease lapses for 10 s in between).
 */
export class LeadList {
  private readonly sites = new Map<string, CachedLeads>();

  constructor(private readonly io: ClickHouseIo) {}

  async leads(site: string): Promise<LeadRecord[]> {
    const cached = this.sites.get(site);
    if (!cached) return this.reload(site);
    this.sites.delete(site);
    const changed = await this.io.rows(SQL.materializedRows(site, ['lead'], '', '\uffff', cached.seq));
    const [count] = await this.io.rows(SQL.leadKeyCount(site));
    if (changed.length > 0) {
      this.take(cached, changed);
      cached.sorted = null;
    }
    // Counted after the changes were read, the site can have more keys (leads new since then,
    // read next time), but fewer only once an erasure removed some: then read it whole.
    if (Number(count?.n ?? 0) < cached.records.size) return this.reload(site);
    this.remember(site, cached);
    return this.listOf(cached);
  }

  /** Starts a site's cache from a whole read. */
  private async reload(site: string): Promise<LeadRecord[]> {
    const cached: CachedLeads = { seq: 0, records: new Map(), sorted: null };
    this.take(cached, await this.io.rows(SQL.materializedRows(site, ['lead'], '', '\uffff')));
    this.remember(site, cached);
    return this.listOf(cached);
  }

  private take(cached: CachedLeads, rows: readonly Row[]): void {
    for (const row of rows) {
      cached.records.set(String(row.key), Number(row.latest_deleted) === 0 ? (JSON.parse(String(row.latest_value)) as LeadRecord) : null);
      cached.seq = Math.max(cached.seq, Number(row.latest_seq));
    }
  }

  private listOf(cached: CachedLeads): LeadRecord[] {
    cached.sorted ??= [...cached.records.values()].filter((record) => record !== null).sort(byLead);
    return [...cached.sorted];
  }

  private remember(site: string, cached: CachedLeads): void {
    this.sites.set(site, cached);
    if (this.sites.size > CACHED_SITES) this.sites.delete(this.sites.keys().next().value as string);
  }
}

/** The events of a site's leads, read back when new scoring rules score them again (rare). */
class FetchedHistory implements LeadHistory<LeadEvent> {
  private readonly of = new Map<string, LeadEvent[]>();

  add(lead: string, event: LeadEvent): void {
    const list = this.of.get(lead);
    if (list) list.push(event);
    else this.of.set(lead, [event]);
  }

  eventsOf(lead: string): LeadEvent[] {
    return [...(this.of.get(lead) ?? [])].sort((a, b) => a.ts - b.ts || a.arrival - b.arrival);
  }

  clear(): void {
    this.of.clear();
  }
}

/** The operations of the shared log, as the materializer reads them. */
export function logOperations(moves: Row[], settings: Row[], erasures: Row[]): { site: string; operation: LeadOperation<LeadEvent> }[] {
  return [
    ...moves.map((row) => ({
      site: String(row.site),
      operation: {
        kind: 'move' as const, seq: Number(row.seq), id: String(row.id), lead: String(row.lead),
        move: {
          stage: String(row.stage) as SalesStage, at: Number(row.at),
          ...(row.amount === null ? {} : { amount: Number(row.amount) }),
          ...(row.currency === null ? {} : { currency: String(row.currency) }),
        } satisfies StageMove,
      },
    })),
    ...settings.map((row) => {
      const value = JSON.parse(String(row.value));
      const seq = Number(row.seq);
      const operation: LeadOperation<LeadEvent> = row.field === 'scoring'
        ? { kind: 'scoring', seq, rules: value as ScoringRules | null }
        : { kind: 'outbound', seq, target: String(row.field) as OutboundTarget, on: value !== null };
      return { site: String(row.site), operation };
    }),
    ...erasures.map((row) => ({
      site: String(row.site),
      operation: { kind: 'erase' as const, seq: Number(row.seq), lead: text(row.lead), visitors: (row.visitors as string[]).map(String) },
    })),
  ];
}

/** The materializer's side: every site's replay, restored from the rows on first use, stepped with the log. */
export class LeadMaterializer {
  private readonly replays = new Map<string, { replay: LeadReplay<LeadEvent>; history: FetchedHistory }>();

  constructor(private readonly io: ClickHouseIo) {}

  /** Applies one step's operations (events, moves, settings, erasures of every site) and stages what changed. */
  async apply(operations: readonly { site: string; operation: LeadOperation<LeadEvent> }[], restoredAt: number, stage: Stage): Promise<void> {
    for (const [site, entries] of groupBy(operations, (entry) => entry.site)) {
      const list = entries.map((entry) => entry.operation);
      const { replay, history } = await this.replayOf(site, restoredAt);
      // New rules score every lead again from its events: read them back first.
      if (list.some((op) => op.kind === 'scoring')) await this.fetchHistory(site, replay, history);
      for (const operation of orderOperations(list)) replay.apply(operation);
      history.clear();
      const changes = replay.takeChanges();
      for (const record of changes.leads) stage(site, 'lead', record.lead, JSON.stringify(record));
      for (const { lead, event } of changes.timeline) stage(site, 'lead_event', timelineKey(lead, event), '');
      for (const d of changes.deliveries) {
        if (d.targets.length === 0) continue;
        stage(site, 'delivery', deliveryKey(d.lead, d.id), JSON.stringify({ id: d.id, lead: d.lead, type: d.type, body: d.body, seq: d.seq, targets: d.targets }));
      }
      for (const [target, seq] of changes.droppedAt) stage(site, 'delivery_cutoff', cutoffKey(target), String(seq));
      for (const [id, result] of changes.moves) stage(site, 'move', id, JSON.stringify(result));
      for (const { lead } of changes.erased) if (lead !== null) stage(site, 'lead', lead, '', true);
    }
  }

  forgetAll(): void {
    this.replays.clear();
  }

  private async replayOf(site: string, restoredAt: number): Promise<{ replay: LeadReplay<LeadEvent>; history: FetchedHistory }> {
    let entry = this.replays.get(site);
    if (entry) return entry;
    const history = new FetchedHistory();
    const replay = new LeadReplay<LeadEvent>(site, history);
    // What a previous step (or holder) wrote, as it was at `restoredAt`.
    const [leads, links, settings, anonymous] = await Promise.all([
      storedLeads(this.io, site),
      siteLinks(this.io, site, restoredAt),
      this.io.rows(SQL.leadSettingsAt(site, restoredAt)),
      this.io.rows(SQL.recentAnonymousEvents(site, Math.floor(restoredAt / 1000) - BUFFER_MS, restoredAt)),
    ]);
    const setting = (field: string) => {
      const row = settings.find((r) => r.field === field);
      return row ? JSON.parse(String(row.latest)) : null;
    };
    replay.restore({
      leads,
      links: [...links].map(([visitor, link]) => [visitor, link.lead] as [string, string]),
      rules: setting('scoring') as ScoringRules | null,
      targets: OUTBOUND_TARGETS.filter((target) => setting(target) !== null),
      anonymous: anonymous.map((row) => ({ event: leadEventOf(site, row), seq: Number(row.arrival) })),
    });
    entry = { replay, history };
    this.replays.set(site, entry);
    return entry;
  }

  private async fetchHistory(site: string, replay: LeadReplay<LeadEvent>, history: FetchedHistory): Promise<void> {
    for (const record of replay.leads()) {
      const keys = await timelineKeys(this.io, site, record.lead);
      for (const row of await timelineEvents(this.io, site, keys)) history.add(record.lead, leadEventOf(site, row));
    }
  }
}

/** The answer to a stage move, once the materializer has applied it. */
export async function moveAnswer(io: ClickHouseIo, site: string, id: string): Promise<StageMoveResult | null> {
  const [row] = await io.rows(SQL.materializedRows(site, ['move'], id, `${id}\u0000`));
  return row ? (JSON.parse(String(row.latest_value)) as StageMoveResult) : null;
}

export interface StoredDelivery {
  /** Per target (targetDeliveryId): what its attempts are recorded under. */
  id: string;
  lead: string;
  target: OutboundTarget;
  type: string;
  body: string;
  seq: number;
}

/** The key of a target's cutoff row; the webhook's is '' (as it was before there were CRMs). */
const cutoffKey = (target: OutboundTarget) => (target === 'webhook' ? '' : target);

/**
 * A site's deliveries, one per target, less those of a target removed after they were caused,
 * in the order they were caused. Rows written before there were CRMs went to the webhook.
 */
export async function storedDeliveries(io: ClickHouseIo, site: string): Promise<StoredDelivery[]> {
  const [rows, cutoffs] = await Promise.all([
    io.rows(SQL.materializedRows(site, ['delivery'], '', '\uffff')),
    io.rows(SQL.materializedRows(site, ['delivery_cutoff'], '', '\uffff')),
  ]);
  const droppedBefore = (target: OutboundTarget) => {
    const row = cutoffs.find((c) => String(c.key) === cutoffKey(target));
    return row ? Number(row.latest_value) : -1;
  };
  const derived = rows.filter((row) => Number(row.latest_deleted) === 0)
    .map((row) => JSON.parse(String(row.latest_value)) as Omit<StoredDelivery, 'target'> & { targets?: OutboundTarget[] });
  return derived.flatMap(({ targets = ['webhook'], ...d }) => targets
    .filter((target) => d.seq > droppedBefore(target))
    .map((target) => ({ ...d, id: targetDeliveryId(d.id, target), target })))
    // A lead made and changed by one event: its creation goes first.
    .sort((a, b) => a.seq - b.seq || Number(b.type === 'lead.created') - Number(a.type === 'lead.created'));
}
