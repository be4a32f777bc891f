// Leads derived from what happened, for a store shared by several collectors (ClickHouse).
//
// No collector can keep the lead state in memory when its neighbours write events and moves
// too, so the state is replayed from the shared log: the site's events (in order of arrival),
// the sales side's stage moves and the changes of scoring rules and webhook, merged by their
// sequence number (the same microsecond clock). Each operation is fed to the LeadTracker that
// SQLite runs at ingest, in the order a single collector would have seen them, so both stores
// give the same leads, stages and webhooks. Webhook deliveries come out with ids that depend
// only on the operation that caused them: every replay, on any collector, names them alike.
import { createHash } from 'node:crypto';
import type { LeadRecord, StageMove, StageMoveResult } from './lead.js';
import { cloneLead } from './lead.js';
import { parseScoringRules, type ScoringRules } from './scoring.js';
import { LeadTracker, type LeadUpdate, type NewStageChange, type TrackedEvent } from './tracker.js';
import { webhookPayload, type WebhookConfig } from './webhook.js';

export type LeadOperation<E extends TrackedEvent = TrackedEvent> =
  | { kind: 'event'; seq: number; event: E }
  | { kind: 'move'; seq: number; id: string; lead: string; move: StageMove }
  | { kind: 'scoring'; seq: number; rules: ScoringRules | null }
  | { kind: 'webhook'; seq: number; webhook: WebhookConfig | null };

/** A webhook delivery as the replay derives it (its sending state is the store's). */
export interface DerivedDelivery {
  id: string;
  lead: string;
  type: string;
  body: string;
  /** The operation that caused it; a lead's deliveries go in this order. */
  seq: number;
  /** The webhook was removed after it was queued: it is not sent. */
  dropped: boolean;
}

const KIND_ORDER = { webhook: 0, scoring: 1, move: 2, event: 3 } as const;

/** Operations of one site in the order they took effect (ties: settings, moves, then events). */
export function orderOperations<E extends TrackedEvent>(operations: LeadOperation<E>[]): LeadOperation<E>[] {
  return [...operations].sort((a, b) => a.seq - b.seq || KIND_ORDER[a.kind] - KIND_ORDER[b.kind]);
}

/** The id of a delivery: the operation that caused it and the lead (one operation changes a lead once). */
export function deliveryId(seq: number, lead: string): string {
  return `${seq}-${createHash('sha256').update(lead).digest('hex').slice(0, 16)}`;
}

/** Scoring rules were validated before they were stored; rules that no longer parse are a bug. */
function parsedRules(rules: ScoringRules) {
  const result = parseScoringRules(rules);
  if (!result.ok) throw new Error(`stored scoring rules no longer valid: ${result.field}: ${result.error}`);
  return result.rules;
}

/**
 * One site's leads, replayed an operation at a time (in `orderOperations` order). Operations
 * later than all applied so far can be added to a replay at any time: a stage move just
 * written needs no replay from the start.
 */
export class LeadReplay<E extends TrackedEvent = TrackedEvent> {
  private readonly tracker = new LeadTracker<number>();
  private readonly events: E[] = [];
  private readonly arrivals: number[] = [];
  private readonly refsOf = new Map<string, number[]>();
  private readonly moveResults = new Map<string, StageMoveResult>();
  readonly deliveries: DerivedDelivery[] = [];
  private webhook = false;
  /** The seq of the last operation applied. */
  lastSeq = -Infinity;

  constructor(private readonly site: string) {}

  apply(operation: LeadOperation<E>): void {
    this.lastSeq = Math.max(this.lastSeq, operation.seq);
    const { tracker, site } = this;
    switch (operation.kind) {
      case 'event': {
        const ref = this.events.push(operation.event) - 1;
        this.arrivals.push(operation.seq);
        const update = tracker.observe([{ event: operation.event, ref }]);
        this.remember(update);
        for (const change of update.changes) this.queue(operation.seq, change);
        break;
      }
      case 'move': {
        const result = tracker.move(site, operation.lead, operation.move);
        this.moveResults.set(operation.id, result.ok ? { ...result, record: cloneLead(result.record), change: result.change && { ...result.change } } : result);
        if (result.ok && result.change) this.queue(operation.seq, { record: result.record, change: result.change });
        break;
      }
      case 'webhook':
        this.webhook = operation.webhook !== null;
        // Removing the webhook drops what it had not delivered yet.
        if (!this.webhook) for (const delivery of this.deliveries) delivery.dropped = true;
        break;
      case 'scoring':
        tracker.setRules(site, operation.rules === null ? null : parsedRules(operation.rules));
        for (const record of tracker.leadsOf(site)) {
          const change = tracker.rescore(site, record.lead, this.eventsOf(record.lead));
          if (change) this.queue(operation.seq, change);
        }
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
    const refs = [...(this.refsOf.get(lead) ?? [])];
    refs.sort((a, b) => this.events[a].ts - this.events[b].ts || this.arrivals[a] - this.arrivals[b]);
    return refs.map((ref) => this.events[ref]);
  }

  /** What a stage move did (a move that lost a race to another is refused here). */
  moveResult(id: string): StageMoveResult | undefined {
    return this.moveResults.get(id);
  }

  private queue(seq: number, { record, change }: NewStageChange): void {
    if (!this.webhook) return;
    const payload = webhookPayload(record, change, this.tracker.rulesOf(this.site));
    this.deliveries.push({ id: deliveryId(seq, record.lead), lead: record.lead, type: payload.type, body: JSON.stringify(payload), seq, dropped: false });
  }

  private remember(update: LeadUpdate<number>): void {
    for (const { lead, ref } of update.events) {
      const refs = this.refsOf.get(lead);
      if (refs) refs.push(ref);
      else this.refsOf.set(lead, [ref]);
    }
  }
}

/** Replays one site's operations (in `orderOperations` order) into its leads. */
export function replayLeads<E extends TrackedEvent>(site: string, operations: readonly LeadOperation<E>[]): LeadReplay<E> {
  const replay = new LeadReplay<E>(site);
  for (const operation of operations) replay.apply(operation);
  return replay;
}
