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
import type { StoredEvent } from '../event.js';
import type { LeadRecord, StageMove, StageMoveResult } from './lead.js';
import { cloneLead } from './lead.js';
import { parseScoringRules, type ScoringRules } from './scoring.js';
import { LeadTracker, type LeadUpdate, type NewStageChange } from './tracker.js';
import { webhookPayload, type WebhookConfig } from './webhook.js';

export type LeadOperation =
  | { kind: 'event'; seq: number; event: StoredEvent }
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

export interface LeadHistory {
  /** Every lead of the site, by id. */
  leads: LeadRecord[];
  /** A lead's events (the joined anonymous ones included) in (ts, arrival) order. */
  eventsOf(lead: string): StoredEvent[];
  /** What each stage move did, by move id (a move that lost a race to another is refused here). */
  moves: Map<string, StageMoveResult>;
  deliveries: DerivedDelivery[];
}

const KIND_ORDER = { webhook: 0, scoring: 1, move: 2, event: 3 } as const;

/** Operations of one site in the order they took effect (ties: settings, moves, then events). */
export function orderOperations(operations: LeadOperation[]): LeadOperation[] {
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

/** Replays one site's operations (in `orderOperations` order) into its leads. */
export function replayLeads(site: string, operations: readonly LeadOperation[]): LeadHistory {
  const tracker = new LeadTracker<number>();
  const events: StoredEvent[] = [];
  const arrivals: number[] = [];
  const refsOf = new Map<string, number[]>();
  const moves = new Map<string, StageMoveResult>();
  const deliveries: DerivedDelivery[] = [];
  let webhook = false;

  const queue = (seq: number, { record, change }: NewStageChange) => {
    if (!webhook) return;
    const payload = webhookPayload(record, change, tracker.rulesOf(site));
    deliveries.push({ id: deliveryId(seq, record.lead), lead: record.lead, type: payload.type, body: JSON.stringify(payload), seq, dropped: false });
  };
  const remember = (update: LeadUpdate<number>) => {
    for (const { lead, ref } of update.events) {
      const refs = refsOf.get(lead) ?? [];
      refs.push(ref);
      refsOf.set(lead, refs);
    }
  };
  const byTimeThenArrival = (a: number, b: number) => events[a].ts - events[b].ts || arrivals[a] - arrivals[b];
  const sortedRefs = (lead: string) => [...(refsOf.get(lead) ?? [])].sort(byTimeThenArrival);

  for (const operation of operations) {
    switch (operation.kind) {
      case 'event': {
        const ref = events.push(operation.event) - 1;
        arrivals.push(operation.seq);
        const update = tracker.observe([{ event: operation.event, ref }]);
        remember(update);
        for (const change of update.changes) queue(operation.seq, change);
        break;
      }
      case 'move': {
        const result = tracker.move(site, operation.lead, operation.move);
        moves.set(operation.id, result.ok ? { ...result, record: cloneLead(result.record), change: result.change && { ...result.change } } : result);
        if (result.ok && result.change) queue(operation.seq, { record: result.record, change: result.change });
        break;
      }
      case 'webhook':
        webhook = operation.webhook !== null;
        // Removing the webhook drops what it had not delivered yet.
        if (!webhook) for (const delivery of deliveries) delivery.dropped = true;
        break;
      case 'scoring':
        tracker.setRules(site, operation.rules === null ? null : parsedRules(operation.rules));
        for (const record of tracker.leadsOf(site)) {
          const change = tracker.rescore(site, record.lead, sortedRefs(record.lead).map((ref) => events[ref]));
          if (change) queue(operation.seq, change);
        }
        break;
    }
  }

  return {
    leads: tracker.leadsOf(site).map(cloneLead).sort((a, b) => (a.lead < b.lead ? -1 : a.lead > b.lead ? 1 : 0)),
    eventsOf: (lead) => sortedRefs(lead).map((ref) => events[ref]),
    moves,
    deliveries,
  };
}
