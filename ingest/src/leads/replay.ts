// Leads derived from what happened, for a store shared by several collectors (ClickHouse).
//
// No collector can score leads at ingest when its neighbours write events and moves too, so
// the one collector that holds the materializer lease applies the shared log to a LeadTracker
// (the one SQLite runs at ingest), in the order a single collector would have seen it: the
// events (in order of arrival), the sales side's stage moves, changes of scoring rules,
// webhook and CRM connectors, and erasures, merged by their sequence number (the same microsecond clock). It writes
// what changed (`takeChanges`) for every collector to read. Webhook deliveries come out with ids
// that depend only on the operation that caused them, so a collector taking over names them alike.
import { createHash } from 'node:crypto';
import type { LeadRecord, StageMove, StageMoveResult } from './lead.js';
import { cloneLead } from './lead.js';
import { parseScoringRules, type ScoringRules } from './scoring.js';
import { LeadTracker, type LeadUpdate, type NewStageChange, type TrackedEvent } from './tracker.js';
import { webhookPayload } from './webhook.js';
import { targetsFor, type OutboundTarget } from './outbound.js';

export type LeadOperation<E extends TrackedEvent = TrackedEvent> =
  | { kind: 'event'; seq: number; event: E }
  | { kind: 'move'; seq: number; id: string; lead: string; move: StageMove }
  | { kind: 'scoring'; seq: number; rules: ScoringRules | null }
  /** The webhook or a CRM connector was set up (`on`) or removed. */
  | { kind: 'outbound'; seq: number; target: OutboundTarget; on: boolean }
  | { kind: 'erase'; seq: number; lead: string | null; visitors: string[] };

/** A delivery as the replay derives it, for each of its targets (their sending state is the store's). */
export interface DerivedDelivery {
  id: string;
  lead: string;
  type: string;
  body: string;
  /** The operation that caused it; a lead's deliveries go in this order. */
  seq: number;
  /** The targets it goes to: those set up when it was caused, less any removed since. */
  targets: OutboundTarget[];
}

/** Where a replay keeps which events are whose: in memory (tests, a whole replay), or in the store. */
export interface LeadHistory<E> {
  add(lead: string, event: E, seq: number): void;
  /** A lead's events in (ts, arrival) order: new scoring rules score them again. */
  eventsOf(lead: string): E[];
}

/** Every lead's events in memory. */
export class MemoryHistory<E extends TrackedEvent> implements LeadHistory<E> {
  private readonly of = new Map<string, { event: E; seq: number }[]>();

  add(lead: string, event: E, seq: number): void {
    const list = this.of.get(lead);
    if (list) list.push({ event, seq });
    else this.of.set(lead, [{ event, seq }]);
  }

  eventsOf(lead: string): E[] {
    return [...(this.of.get(lead) ?? [])].sort((a, b) => a.event.ts - b.event.ts || a.seq - b.seq).map((e) => e.event);
  }
}

/** What applying operations changed, for the store to write. */
export interface ReplayChanges<E> {
  /** Leads whose record changed, as they are now. */
  leads: LeadRecord[];
  /** Events that joined a lead's timeline. */
  timeline: { lead: string; event: E; seq: number }[];
  deliveries: DerivedDelivery[];
  /** Targets removed, and when: their deliveries caused before are not sent. */
  droppedAt: Map<OutboundTarget, number>;
  moves: Map<string, StageMoveResult>;
  erased: { lead: string | null; visitors: string[] }[];
}

const KIND_ORDER = { outbound: 0, scoring: 1, erase: 2, move: 3, event: 4 } as const;

/** Operations of one site in the order they took effect (ties: settings, erasures, moves, then events). */
export function orderOperations<E extends TrackedEvent>(operations: LeadOperation<E>[]): LeadOperation<E>[] {
  return [...operations].sort((a, b) => a.seq - b.seq || KIND_ORDER[a.kind] - KIND_ORDER[b.kind]);
}

/**
 * The id of a delivery: the operation that caused it and the lead. One operation changes a lead
 * once, but may also have made it (`created`: the event that names a new lead can make it an MQL).
 */
export function deliveryId(seq: number, lead: string, created = false): string {
  return `${seq}-${createHash('sha256').update(lead).digest('hex').slice(0, 16)}${created ? '-new' : ''}`;
}

/** Scoring rules were validated before they were stored; rules that no longer parse are a bug. */
function parsedRules(rules: ScoringRules) {
  const result = parseScoringRules(rules);
  if (!result.ok) throw new Error(`stored scoring rules no longer valid: ${result.field}: ${result.error}`);
  return result.rules;
}

/**
 * One site's leads, an operation at a time (in `orderOperations` order). Operations later than
 * all applied so far can be added at any time.
 */
export class LeadReplay<E extends TrackedEvent = TrackedEvent> {
  private readonly tracker = new LeadTracker<E>();
  private readonly moveResults = new Map<string, StageMoveResult>();
  /** Deliveries derived and not taken yet. */
  readonly deliveries: DerivedDelivery[] = [];
  private changed = new Set<string>();
  private timeline: ReplayChanges<E>['timeline'] = [];
  private droppedAt = new Map<OutboundTarget, number>();
  private erased: ReplayChanges<E>['erased'] = [];
  private newMoves = new Map<string, StageMoveResult>();
  private readonly targets = new Set<OutboundTarget>();
  /** The seq of the last operation applied. */
  lastSeq = -Infinity;

  constructor(private readonly site: string, private readonly history: LeadHistory<E> = new MemoryHistory<E>()) {}

  /** Restores what a previous holder wrote: leads, identity links, the settings in force, and the anonymous visits of the last hours. */
  restore(state: { leads: LeadRecord[]; links: Iterable<[string, string]>; rules: ScoringRules | null; targets: OutboundTarget[]; anonymous: { event: E; seq: number }[] }): void {
    for (const record of state.leads) this.tracker.restore(cloneLead(record));
    for (const [visitor, lead] of state.links) this.tracker.restoreLink(this.site, visitor, lead);
    this.tracker.setRules(this.site, state.rules === null ? null : parsedRules(state.rules));
    for (const target of state.targets) this.targets.add(target);
    for (const { event } of state.anonymous) this.tracker.restoreAnonymous(event, event);
  }

  apply(operation: LeadOperation<E>): void {
    this.lastSeq = Math.max(this.lastSeq, operation.seq);
    const { tracker, site } = this;
    switch (operation.kind) {
      case 'event': {
        const update = tracker.observe([{ event: operation.event, ref: operation.event }]);
        this.remember(update, operation.seq);
        for (const created of update.created) this.queue(operation.seq, created);
        for (const change of update.changes) this.queue(operation.seq, change);
        break;
      }
      case 'move': {
        const result = tracker.move(site, operation.lead, operation.move);
        const copy = result.ok ? { ...result, record: cloneLead(result.record), change: result.change && { ...result.change } } : result;
        this.moveResults.set(operation.id, copy);
        this.newMoves.set(operation.id, copy);
        if (result.ok && result.change) {
          this.changed.add(operation.lead);
          this.queue(operation.seq, { record: result.record, change: result.change });
        }
        break;
      }
      case 'outbound':
        if (operation.on) {
          this.targets.add(operation.target);
        } else {
          // Removing a target drops what it had not delivered yet.
          this.targets.delete(operation.target);
          for (const delivery of this.deliveries) delivery.targets = delivery.targets.filter((t) => t !== operation.target);
          this.droppedAt.set(operation.target, operation.seq);
        }
        break;
      case 'scoring':
        tracker.setRules(site, operation.rules === null ? null : parsedRules(operation.rules));
        for (const record of tracker.leadsOf(site)) {
          const change = tracker.rescore(site, record.lead, this.history.eventsOf(record.lead));
          this.changed.add(record.lead);
          if (change) this.queue(operation.seq, change);
        }
        break;
      case 'erase':
        tracker.forget(site, operation.lead, operation.visitors);
        if (operation.lead !== null) this.changed.delete(operation.lead);
        this.erased.push({ lead: operation.lead, visitors: operation.visitors });
        break;
    }
  }

  /** Every lead of the site, by id (copies). */
  leads(): LeadRecord[] {
    return this.tracker.leadsOf(this.site).map(cloneLead).sort((a, b) => (a.lead < b.lead ? -1 : a.lead > b.lead ? 1 : 0));
  }

  lead(lead: string): LeadRecord | null {
    const record = this.tracker.get(this.site, lead);
    return record && cloneLead(record);
  }

  /** A lead's events (the joined anonymous ones included) in (ts, arrival) order. */
  eventsOf(lead: string): E[] {
    return this.history.eventsOf(lead);
  }

  /** What a stage move did (a move that lost a race to another is refused here). */
  moveResult(id: string): StageMoveResult | undefined {
    return this.moveResults.get(id);
  }

  /** What changed since the last call (and forgets it: a replay that runs for long keeps no history). */
  takeChanges(): ReplayChanges<E> {
    const changes: ReplayChanges<E> = {
      leads: [...this.changed].flatMap((lead) => this.lead(lead) ?? []),
      timeline: this.timeline,
      deliveries: this.deliveries.splice(0),
      droppedAt: this.droppedAt,
      moves: this.newMoves,
      erased: this.erased,
    };
    this.changed = new Set();
    this.timeline = [];
    this.droppedAt = new Map();
    this.erased = [];
    this.newMoves = new Map();
    this.moveResults.clear();
    return changes;
  }

  private queue(seq: number, { record, change }: NewStageChange): void {
    const targets = targetsFor(this.targets, change);
    if (targets.length === 0) return;
    const payload = webhookPayload(record, change, this.tracker.rulesOf(this.site));
    this.deliveries.push({ id: deliveryId(seq, record.lead, change.from === null), lead: record.lead, type: payload.type, body: JSON.stringify(payload), seq, targets });
  }

  private remember(update: LeadUpdate<E>, seq: number): void {
    for (const record of update.leads) this.changed.add(record.lead);
    for (const { lead, ref } of update.events) {
      this.history.add(lead, ref, seq);
      this.timeline.push({ lead, event: ref, seq });
    }
  }
}

/** Replays one site's operations (in `orderOperations` order) into its leads. */
export function replayLeads<E extends TrackedEvent>(site: string, operations: readonly LeadOperation<E>[]): LeadReplay<E> {
  const replay = new LeadReplay<E>(site);
  for (const operation of operations) replay.apply(operation);
  return replay;
}
