// Funnel aggregates kept current at ingest, for a store that runs in one process (SQLite).
//
// Each unit's events stay in memory in ts order (compact records, only what funnels read).
// For every funnel, each unit's entries are kept, and one aggregate per day of step 1 adds
// them up; when a unit's events change, its entries are matched again and the day aggregates
// updated (remove the old, add the new). A report merges the days of its range: it never
// reads raw events. A funnel defined later is back-filled from the histories in memory.
import type { StoredEvent } from '../event.js';
import type { ParsedFunnel } from '../funnel/definition.js';
import { matchEntries } from '../funnel/entries.js';
import type { FunnelEvent, Journey } from '../funnel/journey.js';
import {
  addJourney, createFunnelAggregate, mergeAggregates, removeJourney, reportFromAggregate, dayOf, rangeDays,
  type BreakdownDimension, type FunnelAggregate, type FunnelReport,
} from '../funnel/report.js';
import type { TimeRange } from './types.js';
import { DAY_MS } from '../time.js';

export type IndexedEvent = FunnelEvent & Pick<StoredEvent, 'visitor' | 'lead'>;

interface SiteHistory {
  /** unit key → its events in ts order */
  units: Map<string, IndexedEvent[]>;
  /** visitor → the lead it was identified as (the first one named) */
  leadOf: Map<string, string>;
  /** units whose events changed since the funnels last saw them */
  dirty: Set<string>;
}

interface FunnelState {
  site: string;
  funnel: ParsedFunnel;
  entries: Map<string, Journey[]>;
  days: Map<string, FunnelAggregate>;
}

const unitOfVisitor = (visitor: string) => `visitor:${visitor}`;
const unitOfLead = (lead: string) => `lead:${lead}`;

/** Inserts keeping ts order; events arrive mostly in order, so this is usually a push. */
function insertSorted(list: IndexedEvent[], event: IndexedEvent): void {
  let i = list.length;
  while (i > 0 && list[i - 1].ts > event.ts) i--;
  list.splice(i, 0, event);
}

function mergeSorted(a: IndexedEvent[], b: IndexedEvent[]): IndexedEvent[] {
  return [...a, ...b].sort((x, y) => x.ts - y.ts);
}

// Events repeat a few values endlessly (names, paths, channels, browsers): each distinct
// string is kept once, so a million events in memory do not hold a million copies of them.
const interned = new Map<string, string>();
function intern<T extends string | null>(value: T): T {
  if (value === null) return value;
  const known = interned.get(value);
  if (known !== undefined) return known as T;
  interned.set(value, value);
  return value;
}

/** The compact record the index keeps of a stored event. */
export function toIndexedEvent(e: IndexedEvent): IndexedEvent {
  return {
    ts: e.ts, name: intern(e.name), path: intern(e.path), props: e.props, channel: intern(e.channel),
    source: intern(e.source), medium: intern(e.medium), campaign: intern(e.campaign), device: intern(e.device),
    browser: intern(e.browser), variant: intern(e.variant), landing: intern(e.landing),
    revenue_amount: e.revenue_amount, revenue_currency: intern(e.revenue_currency), engaged_ms: e.engaged_ms,
    scroll: e.scroll, session: e.session, visitor: e.visitor, lead: e.lead,
  };
}

export class FunnelIndex {
  private readonly sites = new Map<string, SiteHistory>();
  private readonly funnels = new Map<string, FunnelState>();

  private history(site: string): SiteHistory {
    let history = this.sites.get(site);
    if (!history) {
      history = { units: new Map(), leadOf: new Map(), dirty: new Set() };
      this.sites.set(site, history);
    }
    return history;
  }

  /** Adds committed events. Cheap: matching waits for refresh() (a timer, or the next report). */
  add(site: string, event: IndexedEvent): void {
    const history = this.history(site);
    if (event.lead !== null && !history.leadOf.has(event.visitor)) this.identify(history, event.visitor, event.lead);
    const lead = history.leadOf.get(event.visitor);
    const unit = lead === undefined ? unitOfVisitor(event.visitor) : unitOfLead(lead);
    const events = history.units.get(unit);
    if (events) insertSorted(events, event);
    else history.units.set(unit, [event]);
    history.dirty.add(unit);
  }

  /** A visitor named a lead: its anonymous events so far join the lead's journey. */
  private identify(history: SiteHistory, visitor: string, lead: string): void {
    history.leadOf.set(visitor, lead);
    const anonymous = history.units.get(unitOfVisitor(visitor));
    if (!anonymous) return;
    history.units.delete(unitOfVisitor(visitor));
    history.dirty.add(unitOfVisitor(visitor));
    const leadUnit = unitOfLead(lead);
    history.units.set(leadUnit, mergeSorted(history.units.get(leadUnit) ?? [], anonymous));
    history.dirty.add(leadUnit);
  }

  /**
   * Drops the site's events that `erased` picks (a visitor or lead erased, or past retention);
   * the units they belonged to are matched again on the next refresh.
   */
  forget(site: string, erased: (event: IndexedEvent) => boolean, unlinkVisitor?: string): void {
    const history = this.history(site);
    for (const [unit, events] of history.units) {
      if (!events.some(erased)) continue;
      const kept = events.filter((event) => !erased(event));
      if (kept.length === 0) history.units.delete(unit);
      else history.units.set(unit, kept);
      history.dirty.add(unit);
    }
    if (unlinkVisitor !== undefined) history.leadOf.delete(unlinkVisitor);
    for (const [visitor, lead] of history.leadOf) {
      if (!history.units.has(unitOfLead(lead))) history.leadOf.delete(visitor);
    }
  }

  /** Defines or redefines a funnel and back-fills it from every event of its site. */
  setFunnel(key: string, site: string, funnel: ParsedFunnel): void {
    this.refresh();
    const state: FunnelState = { site, funnel, entries: new Map(), days: new Map() };
    for (const [unit, events] of this.history(site).units) this.rematch(state, unit, events);
    this.funnels.set(key, state);
  }

  deleteFunnel(key: string): void {
    this.funnels.delete(key);
  }

  /** Matches the units that changed against every funnel of their site. */
  refresh(): void {
    for (const [site, history] of this.sites) {
      if (history.dirty.size === 0) continue;
      for (const state of this.funnels.values()) {
        if (state.site !== site) continue;
        for (const unit of history.dirty) this.rematch(state, unit, history.units.get(unit) ?? []);
      }
      history.dirty.clear();
    }
  }

  private rematch(state: FunnelState, unit: string, events: readonly IndexedEvent[]): void {
    for (const old of state.entries.get(unit) ?? []) removeJourney(this.day(state, old.start), old);
    const entries = events.length === 0 ? [] : matchEntries(events, state.funnel);
    if (entries.length === 0) state.entries.delete(unit);
    else state.entries.set(unit, entries);
    for (const entry of entries) addJourney(this.day(state, entry.start), entry);
  }

  private day(state: FunnelState, start: number): FunnelAggregate {
    const day = dayOf(start, 'UTC');
    let aggregate = state.days.get(day);
    if (!aggregate) {
      aggregate = createFunnelAggregate(state.funnel.steps.length);
      state.days.set(day, aggregate);
    }
    return aggregate;
  }

  report(key: string, range: TimeRange, options: { now: number; breakdown?: BreakdownDimension }): FunnelReport | null {
    this.refresh();
    const state = this.funnels.get(key);
    if (!state) return null;
    const merged = createFunnelAggregate(state.funnel.steps.length);
    for (let day = range.fromMs; day < range.toMs; day += DAY_MS) {
      const aggregate = state.days.get(dayOf(day, 'UTC'));
      if (aggregate) mergeAggregates(merged, aggregate, { openAt: options.now, only: options.breakdown ?? null });
    }
    return reportFromAggregate(merged, state.funnel, { ...options, range: rangeDays(range) });
  }

  /** A report of a funnel that is not saved (the editor's preview), matched from the histories. */
  preview(site: string, funnel: ParsedFunnel, range: TimeRange, options: { now: number; breakdown?: BreakdownDimension }): FunnelReport {
    this.refresh();
    const merged = createFunnelAggregate(funnel.steps.length);
    for (const events of this.history(site).units.values()) {
      for (const entry of matchEntries(events, funnel)) {
        if (entry.start >= range.fromMs && entry.start < range.toMs) addJourney(merged, entry);
      }
    }
    return reportFromAggregate(merged, funnel, { ...options, range: rangeDays(range) });
  }
}
