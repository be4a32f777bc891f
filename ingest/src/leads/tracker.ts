// Lead identity and scoring kept current at ingest, in memory: the write path feeds it the
// committed events and persists what it returns, so ingestion never reads the database.
//
// Identity: an event belongs to the lead it names, else to the lead its visitor named before
// (the first one; funnels apply the same links, funnel/identity.ts). When a visitor names a
// lead, the anonymous events of that visit (session) join the lead: they are held here,
// compact, until the visit has been idle for BUFFER_MS. A lead's entry source is the
// attribution of its earliest event (first touch), so a journey identified at signup keeps
// the source it started from.
import type { StoredEvent } from '../event.js';
import { cloneLead, type LeadEntry, type LeadRecord, type StageChange, type StageMove, type StageMoveResult } from './lead.js';
import { addPoints, pointsFor, type ParsedScoringRules } from './scoring.js';
import { checkMove } from './stages.js';

/** What the tracker reads of an event. */
export type TrackedEvent = Pick<
  StoredEvent,
  'site' | 'ts' | 'name' | 'path' | 'props' | 'channel' | 'source' | 'medium' | 'campaign' | 'term' | 'landing' | 'visitor' | 'session' | 'lead'
>;

/** Anonymous visits are held this long after their last event, in case the visitor signs up. */
export const BUFFER_MS = 2 * 3_600_000;
const MAX_BUFFERED_VISITS = 200_000;
/** Events per anonymous visit kept for the lead's timeline (a runaway visit stops adding). */
const MAX_REFS_PER_VISIT = 1_000;
/** Batches observed between two sweeps of the anonymous visits by time. */
const SWEEP_EVERY = 1_000;
/** A visit moves to the back of the eviction order at most this often (moving it costs, per event, as much as the rest of its bookkeeping). */
const REORDER_AFTER_MS = 60_000;
/** Visits per lead whose once-per-visit rules are remembered. */
const MAX_VISITS_PER_LEAD = 50;

interface AnonymousVisit {
  visitor: string;
  entry: LeadEntry;
  firstTs: number;
  lastTs: number;
  /** lastTs when the visit last moved to the back of the eviction order. */
  orderedTs: number;
  /** Points earned by each event, in arrival order. */
  contributions: { ts: number; points: number }[];
  awarded: Set<number>;
  /** The store's references of the visit's events (SQLite: rowids), for the lead's timeline. */
  refs: unknown[];
}

interface LeadState {
  record: LeadRecord;
  /** session → the per-visit rules already awarded in it */
  visits: Map<string, Set<number>>;
}

export interface NewStageChange {
  record: LeadRecord;
  change: StageChange;
}

/** What one batch changed, for the store to persist (and turn into webhooks). */
export interface LeadUpdate<R> {
  /** Leads whose row changed. */
  leads: LeadRecord[];
  /** Leads named for the first time (their change is the `lead` stage, from nothing): a CRM creates the contact. */
  created: NewStageChange[];
  changes: NewStageChange[];
  /** Visitors that named a lead for the first time, and when (funnels apply the same links, funnel/identity.ts). */
  links: { site: string; visitor: string; lead: string; at: number; ref: R }[];
  /** Events that belong to a lead (the joined anonymous ones included), by store reference. */
  events: { site: string; lead: string; ref: R }[];
}

const key = (site: string, id: string) => `${site}\n${id}`;

function entryOf(event: TrackedEvent): LeadEntry {
  return { channel: event.channel, source: event.source, medium: event.medium, campaign: event.campaign, term: event.term, landing: event.landing };
}

export class LeadTracker<R = unknown> {
  private readonly rules = new Map<string, ParsedScoringRules>();
  private readonly leadOf = new Map<string, string>();
  private readonly leads = new Map<string, LeadState>();
  private readonly anonymous = new Map<string, AnonymousVisit>();
  private latestTs = 0;
  private observedSinceSweep = 0;

  setRules(site: string, rules: ParsedScoringRules | null): void {
    if (rules) this.rules.set(site, rules);
    else this.rules.delete(site);
  }

  rulesOf(site: string): ParsedScoringRules | null {
    return this.rules.get(site) ?? null;
  }

  /** Restores a lead and the visitors linked to it (at startup). */
  restore(record: LeadRecord): void {
    this.leads.set(key(record.site, record.lead), { record, visits: new Map() });
  }

  restoreLink(site: string, visitor: string, lead: string): void {
    this.leadOf.set(key(site, visitor), lead);
  }

  /** Restores an anonymous event of a recent visit (at startup), so a signup after a restart still joins it. */
  restoreAnonymous(event: TrackedEvent, ref: R): void {
    if (event.lead === null && !this.leadOf.has(key(event.site, event.visitor))) this.buffer(event, ref);
  }

  /**
   * Forgets an erased person: a lead (its state) and these visitors (their links and anonymous
   * visits). What their events earned other leads stays.
   */
  forget(site: string, lead: string | null, visitors: readonly string[]): void {
    if (lead !== null) this.leads.delete(key(site, lead));
    const erased = new Set(visitors);
    for (const visitor of visitors) this.leadOf.delete(key(site, visitor));
    for (const [visitKey, visit] of this.anonymous) {
      if (visitKey.startsWith(`${site}\n`) && erased.has(visit.visitor)) this.anonymous.delete(visitKey);
    }
  }

  get(site: string, lead: string): LeadRecord | null {
    return this.leads.get(key(site, lead))?.record ?? null;
  }

  /** Every lead of a site (live records: callers copy before changing). */
  leadsOf(site: string): LeadRecord[] {
    const prefix = `${site}\n`;
    const result: LeadRecord[] = [];
    for (const [k, state] of this.leads) if (k.startsWith(prefix)) result.push(state.record);
    return result;
  }

  /** Scores committed events and links identities; returns what the store must write. */
  observe(batch: readonly { event: TrackedEvent; ref: R }[]): LeadUpdate<R> {
    const update: LeadUpdate<R> = { leads: [], created: [], changes: [], links: [], events: [] };
    const touched = new Set<LeadState>();
    for (const { event, ref } of batch) {
      if (event.ts > this.latestTs) this.latestTs = event.ts;
      const visitorKey = key(event.site, event.visitor);
      const linked = this.leadOf.get(visitorKey);
      const lead = event.lead ?? linked;
      if (lead === undefined) {
        this.buffer(event, ref);
        continue;
      }
      if (event.lead !== null && linked === undefined) {
        this.leadOf.set(visitorKey, event.lead);
        update.links.push({ site: event.site, visitor: event.visitor, lead: event.lead, at: event.ts, ref });
      }
      const isNew = !this.leads.has(key(event.site, lead));
      const state = this.leadState(event, lead);
      const rules = this.rules.get(event.site) ?? null;
      const record = state.record;
      if (event.lead !== null) this.join(state, event, rules, update);
      // After the join, so the new lead carries the entry source of the visit that named it.
      if (isNew) update.created.push({ record: cloneLead(record), change: { ...record.changes[0] } });
      const points = rules ? pointsFor(rules, event, this.visitAwards(state, event.session)) : 0;
      this.score(state, points, event.ts, rules, update);
      record.firstSeen = Math.min(record.firstSeen, event.ts);
      record.lastSeen = Math.max(record.lastSeen, event.ts);
      update.events.push({ site: event.site, lead, ref });
      touched.add(state);
    }
    update.leads = [...touched].map((s) => s.record);
    this.evictIdleVisits();
    return update;
  }

  /** A sales-side stage move, checked against the stage machine. */
  move(site: string, lead: string, move: StageMove): StageMoveResult {
    const state = this.leads.get(key(site, lead));
    if (!state) return { ok: false, reason: 'unknown' };
    const record = state.record;
    const check = checkMove(record.stage, move.stage);
    if (!check.ok) return { ok: false, reason: 'illegal', error: check.error, stage: record.stage };
    if (!check.changed) return { ok: true, changed: false, record, change: null };
    // Stage times never go backwards, even when the clock does.
    const change: StageChange = {
      stage: move.stage, from: record.stage, at: Math.max(move.at, record.stageAt),
      amount: move.amount ?? null, currency: move.currency ?? null, by: 'api',
    };
    this.applyChange(record, change);
    return { ok: true, changed: true, record, change };
  }

  /**
   * Scores a lead again from all its events (ts order) under the site's current rules: the
   * rules changed. A lead still in `lead` whose new score reaches the threshold becomes an
   * MQL at the moment it did; stages already reached are kept.
   */
  rescore(site: string, lead: string, events: readonly TrackedEvent[]): NewStageChange | null {
    const state = this.leads.get(key(site, lead));
    if (!state) return null;
    const rules = this.rules.get(site) ?? null;
    const update: LeadUpdate<R> = { leads: [], created: [], changes: [], links: [], events: [] };
    state.visits = new Map();
    state.record.score = { value: 0, at: state.record.createdAt };
    for (const event of events) {
      const points = rules ? pointsFor(rules, event, this.visitAwards(state, event.session)) : 0;
      this.score(state, points, event.ts, rules, update);
    }
    return update.changes[0] ?? null;
  }

  private leadState(event: TrackedEvent, lead: string): LeadState {
    const k = key(event.site, lead);
    let state = this.leads.get(k);
    if (!state) {
      const record: LeadRecord = {
        site: event.site, lead, stage: 'lead', stageAt: event.ts, score: { value: 0, at: event.ts },
        createdAt: event.ts, firstSeen: event.ts, lastSeen: event.ts, entry: entryOf(event),
        changes: [{ stage: 'lead', from: null, at: event.ts, amount: null, currency: null, by: 'identify' }],
      };
      state = { record, visits: new Map() };
      this.leads.set(k, state);
    }
    return state;
  }

  /** The anonymous events of the visit in which the lead is named join the lead. */
  private join(state: LeadState, event: TrackedEvent, rules: ParsedScoringRules | null, update: LeadUpdate<R>): void {
    const visitKey = key(event.site, event.session);
    const visit = this.anonymous.get(visitKey);
    if (!visit || visit.visitor !== event.visitor) return;
    this.anonymous.delete(visitKey);
    const record = state.record;
    if (visit.firstTs < record.firstSeen) {
      record.firstSeen = visit.firstTs;
      record.entry = visit.entry;
    }
    record.lastSeen = Math.max(record.lastSeen, visit.lastTs);
    const awarded = this.visitAwards(state, event.session);
    for (const rule of visit.awarded) awarded.add(rule);
    const contributions = [...visit.contributions].sort((a, b) => a.ts - b.ts);
    for (const c of contributions) this.score(state, c.points, c.ts, rules, update);
    for (const ref of visit.refs) update.events.push({ site: event.site, lead: record.lead, ref: ref as R });
  }

  private score(state: LeadState, points: number, ts: number, rules: ParsedScoringRules | null, update: LeadUpdate<R>): void {
    const record = state.record;
    if (points !== 0) record.score = addPoints(record.score, points, ts, rules?.halfLifeMs ?? null);
    if (rules && record.stage === 'lead' && record.score.value >= rules.threshold) {
      // Points earned before the lead was named count, but it can be an MQL only once it is a lead.
      const at = Math.max(ts, record.score.at, record.stageAt);
      const change: StageChange = { stage: 'mql', from: 'lead', at, amount: null, currency: null, by: 'score' };
      this.applyChange(record, change);
      // As it is now: later events of the same batch must not change what its webhook says.
      update.changes.push({ record: cloneLead(record), change });
    }
  }

  private applyChange(record: LeadRecord, change: StageChange): void {
    record.changes.push(change);
    record.stage = change.stage;
    record.stageAt = change.at;
  }

  private visitAwards(state: LeadState, session: string): Set<number> {
    let awarded = state.visits.get(session);
    if (!awarded) {
      awarded = new Set();
      state.visits.set(session, awarded);
      if (state.visits.size > MAX_VISITS_PER_LEAD) state.visits.delete(state.visits.keys().next().value as string);
    }
    return awarded;
  }

  private buffer(event: TrackedEvent, ref: R): void {
    const visitKey = key(event.site, event.session);
    let visit = this.anonymous.get(visitKey);
    if (visit && visit.visitor !== event.visitor) visit = undefined;
    if (!visit) {
      visit = { visitor: event.visitor, entry: entryOf(event), firstTs: event.ts, lastTs: event.ts, orderedTs: event.ts, contributions: [], awarded: new Set(), refs: [] };
      this.anonymous.set(visitKey, visit);
    } else if (event.ts - visit.orderedTs >= REORDER_AFTER_MS) {
      // Re-inserted: the Map stays in least-recently-active order (within a minute) for eviction.
      this.anonymous.delete(visitKey);
      this.anonymous.set(visitKey, visit);
      visit.orderedTs = event.ts;
    }
    if (event.ts < visit.firstTs) {
      visit.firstTs = event.ts;
      visit.entry = entryOf(event);
    }
    visit.lastTs = Math.max(visit.lastTs, event.ts);
    const rules = this.rules.get(event.site);
    if (rules) {
      const points = pointsFor(rules, event, visit.awarded);
      if (points !== 0) visit.contributions.push({ ts: event.ts, points });
    }
    if (visit.refs.length < MAX_REFS_PER_VISIT) visit.refs.push(ref);
  }

  private evictIdleVisits(): void {
    for (const [visitKey, visit] of this.anonymous) {
      if (visit.lastTs >= this.latestTs - BUFFER_MS && this.anonymous.size <= MAX_BUFFERED_VISITS) break;
      this.anonymous.delete(visitKey);
    }
    // The loop above stops at the first recent visit: visits of old times behind it (an import of
    // history) are swept by their time now and then.
    if (++this.observedSinceSweep >= SWEEP_EVERY) {
      this.observedSinceSweep = 0;
      for (const [visitKey, visit] of this.anonymous) if (visit.lastTs < this.latestTs - BUFFER_MS) this.anonymous.delete(visitKey);
    }
  }
}
