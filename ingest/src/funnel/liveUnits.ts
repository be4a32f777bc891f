// The events of a site that funnels may still need (those of entries whose windows are open),
// grouped by unit, packed: memory follows the traffic of the longest open window, so each
// event is seven numbers in its unit's array (sized exactly) rather than an object, and what
// events repeat (name, path and properties; the visit's attribution; revenue) is kept once per
// site.
//
// An event is flagged new until the funnels have matched it: a unit's journeys as they were
// counted are matched again from its events without the flag, and taken back, before the
// journeys of all its events are added (the store keeps no journey per unit).
//
// Most units are visitors whose visit is over but whose window is still open. A store that can
// read events back cheaply by their order of arrival (SQLite, by rowid) gives a loader: then
// only the most recently touched units keep their events; the others keep just their events'
// arrivals and the time of the first (offloaded), and read them back when something needs them.
import type { PropValue } from '../event.js';
import type { EntryAttribution, FunnelEvent } from './journey.js';
import { leadUnit, visitorUnit } from './identity.js';

/** What the live state reads of a stored event. */
export interface LiveInput extends FunnelEvent {
  visitor: string;
  lead: string | null;
  /** The store's order of arrival (SQLite: rowid; ClickHouse: the arrival clock): it orders events of equal ts. */
  arrival: number;
}

/** Reads stored events back by arrival (any order; an erased one is simply missing). */
export type EventLoader = (arrivals: readonly number[]) => LiveInput[];

/** A decoded event: what the engine matches, and where it came from. */
export interface LiveEvent extends FunnelEvent {
  /** Id of the event's name, path and properties: step matches are cached per shape. */
  shape: number;
  visitor: string;
  arrival: number;
  isNew: boolean;
}

interface Shape {
  name: string;
  path: string;
  props: Record<string, PropValue> | null;
}

// Slots of an event: ts, arrival, shape, attribution × 2^26 + revenue, engaged ms (-1: none),
// scroll (-1: none), session × 2^21 + visitor × 2 + new. Every packed value stays below 2^53.
const STRIDE = 7;
const LAST = STRIDE - 1;
const ATTRIBUTION_SHIFT = 2 ** 26;
const SESSION_SHIFT = 2 ** 21;
const MAX_VISITORS_PER_UNIT = 2 ** 20;
/** Up to this many events a unit's array is reallocated to its exact size on every insert; past it, it grows. */
const EXACT_UP_TO = 64 * STRIDE;

class Interner<T> {
  private readonly ids = new Map<string, number>();
  readonly values: T[] = [];

  id(key: string, make: () => T): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.values.push(make()) - 1;
      this.ids.set(key, id);
    }
    return id;
  }

  get size(): number {
    return this.values.length;
  }
}

const NONE: never[] = [];

export class LiveUnit {
  /** Packed events in (ts, arrival) order, STRIDE numbers each (empty while offloaded). */
  data: number[] = NONE;
  sessions: string[] = NONE;
  /** The visitors whose events it holds (a visitor's own unit: just that visitor). */
  visitors: string[];
  /** Some event is flagged new. */
  hasNew = false;
  /** While offloaded: its events' arrivals (in any order). */
  offloaded: number[] | null = null;
  /** While offloaded: the ts of its first event. */
  offloadedFrom = Infinity;

  constructor(readonly isLead: boolean, readonly id: string) {
    this.visitors = isLead ? NONE : [id];
  }

  /** The unit's key, as chain ends are kept: `visitor:…` or `lead:…`. */
  get key(): string {
    return this.isLead ? leadUnit(this.id) : visitorUnit(this.id);
  }

  get size(): number {
    return this.offloaded ? this.offloaded.length : this.data.length / STRIDE;
  }

  /** ts of the oldest event (Infinity when empty). */
  get firstTs(): number {
    if (this.offloaded) return this.offloadedFrom;
    return this.data.length === 0 ? Infinity : this.data[0];
  }

  /** ts of an event held in memory. */
  ts(index: number): number {
    return this.data[index * STRIDE];
  }

  /** The arrival of an event (in memory: in (ts, arrival) order; offloaded: in no order). */
  arrival(index: number): number {
    return this.offloaded ? this.offloaded[index] : this.data[index * STRIDE + 1];
  }

  /** Does it hold an event of one of these visitors? */
  holdsVisitor(visitors: ReadonlySet<string>): boolean {
    return this.isLead ? this.visitors.some((v) => visitors.has(v)) : visitors.has(this.id);
  }

  indexOfSession(session: string): number {
    const at = this.sessions.lastIndexOf(session);
    if (at >= 0) return at;
    this.sessions = [...this.sessions, session];
    return this.sessions.length - 1;
  }

  indexOfVisitor(visitor: string): number {
    const at = this.visitors.lastIndexOf(visitor);
    if (at >= 0) return at;
    if (this.visitors.length >= MAX_VISITORS_PER_UNIT) throw new Error(`unit ${this.key} holds too many visitors`);
    this.visitors = [...this.visitors, visitor];
    return this.visitors.length - 1;
  }
}

/** With a loader, at most this many units keep their events in memory (the most recently touched). */
export const RESIDENT_UNITS = 20_000;

export class LiveUnits {
  private readonly visitorUnits = new Map<string, LiveUnit>();
  private readonly leadUnits = new Map<string, LiveUnit>();
  private readonly shapes = new Interner<Shape>();
  private readonly attributions = new Interner<EntryAttribution>();
  private readonly revenues = new Interner<{ amount: number; currency: string } | null>();
  /** Units holding their events, least recently touched first. */
  private readonly resident = new Set<LiveUnit>();
  private eventCount = 0;

  constructor(private readonly loader: EventLoader | null = null, private readonly residentUnits = RESIDENT_UNITS) {
    this.revenues.id('', () => null);
  }

  get events(): number {
    return this.eventCount;
  }

  get unitCount(): number {
    return this.visitorUnits.size + this.leadUnits.size;
  }

  /** Every unit; units added while iterating are visited too. */
  *units(): Generator<LiveUnit> {
    yield* this.visitorUnits.values();
    yield* this.leadUnits.values();
  }

  find(isLead: boolean, id: string): LiveUnit | undefined {
    return (isLead ? this.leadUnits : this.visitorUnits).get(id);
  }

  unit(isLead: boolean, id: string): LiveUnit {
    const units = isLead ? this.leadUnits : this.visitorUnits;
    let unit = units.get(id);
    if (!unit) {
      unit = new LiveUnit(isLead, id);
      units.set(id, unit);
    }
    return unit;
  }

  /**
   * Adds an event to a unit, keeping (ts, arrival) order (arrivals are mostly in order: usually
   * at the end), flagged new unless the funnels that count live never read it (`isNew` false).
   */
  add(unit: LiveUnit, event: LiveInput, isNew = true): void {
    this.makeResident(unit);
    this.pack(unit, event, isNew);
    this.eventCount++;
    if (isNew) unit.hasNew = true;
  }

  private pack(unit: LiveUnit, event: LiveInput, isNew: boolean): void {
    const shape = this.shapes.id(`${event.name}\n${event.path}\n${event.props ? JSON.stringify(event.props) : ''}`,
      () => ({ name: event.name, path: event.path, props: event.props }));
    const attribution = this.attributions.id(
      JSON.stringify([event.channel, event.source, event.medium, event.campaign, event.device, event.browser, event.variant, event.landing]),
      () => ({
        channel: event.channel, source: event.source, medium: event.medium, campaign: event.campaign, device: event.device,
        browser: event.browser, variant: event.variant, landing: event.landing,
      }));
    const revenue = event.revenue_amount === null || event.revenue_currency === null ? 0
      : this.revenues.id(`${event.revenue_amount}\n${event.revenue_currency}`,
        () => ({ amount: event.revenue_amount!, currency: event.revenue_currency! }));
    this.insertPacked(unit, [
      event.ts,
      event.arrival,
      shape,
      attribution * ATTRIBUTION_SHIFT + revenue,
      event.engaged_ms ?? -1,
      event.scroll ?? -1,
      unit.indexOfSession(event.session) * SESSION_SHIFT + unit.indexOfVisitor(event.visitor) * 2 + (isNew ? 1 : 0),
    ]);
  }

  /**
   * Keeps the events of at most `residentUnits` units in memory (with a loader): the others,
   * with nothing new, keep only their events' times and arrivals. Returns how many were offloaded.
   */
  offloadIdle(): number {
    if (!this.loader) return 0;
    let offloaded = 0;
    for (const unit of this.resident) {
      if (this.resident.size <= this.residentUnits) break;
      // Units waiting to be matched stay: their new events are not stored only as keys.
      if (unit.hasNew) continue;
      this.resident.delete(unit);
      if (unit.data.length === 0) continue;
      const arrivals = new Array<number>(unit.size);
      for (let i = 0; i < arrivals.length; i++) arrivals[i] = unit.data[i * STRIDE + 1];
      unit.offloadedFrom = unit.data[0];
      unit.offloaded = arrivals;
      unit.data = NONE;
      unit.sessions = NONE;
      if (!unit.isLead) unit.visitors = NONE;
      offloaded++;
    }
    return offloaded;
  }

  get residentCount(): number {
    return this.resident.size;
  }

  /**
   * Adds a stored event by its key alone (restoring after a restart, when the unit's journeys are
   * restored too): the unit stays offloaded, unless it already holds events in memory.
   */
  addKey(unit: LiveUnit, ts: number, arrival: number): void {
    this.eventCount++;
    if (unit.offloaded === null && unit.data.length > 0) {
      for (const event of this.fetch([arrival])) this.pack(unit, event, false);
      return;
    }
    const arrivals = unit.offloaded ?? NONE;
    if (arrivals.length >= EXACT_UP_TO) {
      arrivals.push(arrival);
    } else {
      // Sized exactly, as `data` is.
      const next = new Array<number>(arrivals.length + 1);
      for (let i = 0; i < arrivals.length; i++) next[i] = arrivals[i];
      next[arrivals.length] = arrival;
      unit.offloaded = next;
    }
    unit.offloadedFrom = Math.min(unit.offloadedFrom, ts);
    if (!unit.isLead) unit.visitors = NONE;
  }

  /** The events of many units at once (offloaded ones read back in one go). */
  decodeMany(units: readonly LiveUnit[]): LiveEvent[][] {
    const arrivals: number[] = [];
    for (const unit of units) if (unit.offloaded) for (const arrival of unit.offloaded) arrivals.push(arrival);
    const fetched = arrivals.length === 0 ? new Map<number, LiveInput>() : new Map(this.fetch(arrivals).map((event) => [event.arrival, event]));
    return units.map((unit) => {
      if (!unit.offloaded) return this.decode(unit);
      return this.decodeFetched(unit, unit.offloaded.flatMap((arrival) => fetched.get(arrival) ?? []));
    });
  }

  /** Reads an offloaded unit's events back (those still stored) and marks the unit recently touched. */
  private makeResident(unit: LiveUnit): void {
    this.resident.delete(unit);
    this.resident.add(unit);
    const arrivals = unit.offloaded;
    if (!arrivals) return;
    unit.offloaded = null;
    unit.offloadedFrom = Infinity;
    if (!unit.isLead) unit.visitors = [unit.id];
    const events = this.fetch(arrivals);
    this.eventCount -= arrivals.length - events.length;
    for (const event of events) this.pack(unit, event, false);
  }

  /** The stored events of these arrivals (those still stored), in (ts, arrival) order. */
  private fetch(arrivals: readonly number[]): LiveInput[] {
    return this.loader!(arrivals).sort((a, b) => a.ts - b.ts || a.arrival - b.arrival);
  }

  private decodeFetched(unit: LiveUnit, events: LiveInput[]): LiveEvent[] {
    const scratch = new LiveUnit(unit.isLead, unit.id);
    events.sort((a, b) => a.ts - b.ts || a.arrival - b.arrival);
    for (const event of events) this.pack(scratch, event, false);
    return this.decode(scratch);
  }

  /** Moves the events `take` picks from one unit to another, flagged new there. Returns how many. */
  move(from: LiveUnit, to: LiveUnit, take: (index: number) => boolean): number {
    this.makeResident(from);
    this.makeResident(to);
    const moved: number[][] = [];
    const kept: number[] = [];
    for (let i = 0; i < from.size; i++) {
      const slots = from.data.slice(i * STRIDE, (i + 1) * STRIDE);
      if (take(i)) moved.push(slots);
      else kept.push(...slots);
    }
    from.data = kept.slice();
    for (const slots of moved) {
      const session = from.sessions[Math.floor(slots[LAST] / SESSION_SHIFT)];
      const visitor = from.visitors[Math.floor((slots[LAST] % SESSION_SHIFT) / 2)];
      slots[LAST] = to.indexOfSession(session) * SESSION_SHIFT + to.indexOfVisitor(visitor) * 2 + 1;
      this.insertPacked(to, slots);
    }
    if (moved.length > 0) to.hasNew = true;
    this.compactLists(from);
    return moved.length;
  }

  /** Removes the events `drop` picks; returns how many. */
  remove(unit: LiveUnit, drop: (index: number) => boolean): number {
    this.makeResident(unit);
    const kept: number[] = [];
    let removed = 0;
    for (let i = 0; i < unit.size; i++) {
      if (drop(i)) removed++;
      else for (let s = i * STRIDE; s < (i + 1) * STRIDE; s++) kept.push(unit.data[s]);
    }
    unit.data = kept.slice();
    this.eventCount -= removed;
    if (removed > 0) this.compactLists(unit);
    return removed;
  }

  /** Drops a unit's events older than `ts` (no funnel reads them any more); returns how many. */
  dropBefore(unit: LiveUnit, ts: number): number {
    if (unit.firstTs >= ts) return 0;
    this.makeResident(unit);
    let n = 0;
    while (n < unit.size && unit.ts(n) < ts) n++;
    if (n === 0) return 0;
    this.eventCount -= n;
    unit.data = unit.data.slice(n * STRIDE);
    this.compactLists(unit);
    return n;
  }

  delete(unit: LiveUnit): void {
    this.eventCount -= unit.size;
    this.resident.delete(unit);
    (unit.isLead ? this.leadUnits : this.visitorUnits).delete(unit.id);
  }

  clearNew(unit: LiveUnit): void {
    if (unit.offloaded) return;
    for (let s = LAST; s < unit.data.length; s += STRIDE) if (unit.data[s] % 2 === 1) unit.data[s] -= 1;
    unit.hasNew = false;
  }

  /** The unit's events as the engine reads them, in (ts, arrival) order (an offloaded unit's are read back, and it stays offloaded). */
  decode(unit: LiveUnit): LiveEvent[] {
    if (unit.offloaded) return this.decodeFetched(unit, this.fetch(unit.offloaded));
    const d = unit.data;
    const events: LiveEvent[] = new Array(unit.size);
    for (let i = 0; i < events.length; i++) {
      const o = i * STRIDE;
      const shape = this.shapes.values[d[o + 2]];
      const attribution = this.attributions.values[Math.floor(d[o + 3] / ATTRIBUTION_SHIFT)];
      const revenue = this.revenues.values[d[o + 3] % ATTRIBUTION_SHIFT];
      const last = d[o + LAST];
      events[i] = {
        ts: d[o],
        name: shape.name,
        path: shape.path,
        props: shape.props,
        channel: attribution.channel,
        source: attribution.source,
        medium: attribution.medium,
        campaign: attribution.campaign,
        device: attribution.device,
        browser: attribution.browser,
        variant: attribution.variant,
        landing: attribution.landing,
        revenue_amount: revenue ? revenue.amount : null,
        revenue_currency: revenue ? revenue.currency : null,
        engaged_ms: d[o + 4] < 0 ? null : d[o + 4],
        scroll: d[o + 5] < 0 ? null : d[o + 5],
        session: unit.sessions[Math.floor(last / SESSION_SHIFT)],
        shape: d[o + 2],
        visitor: unit.visitors[Math.floor((last % SESSION_SHIFT) / 2)],
        arrival: d[o + 1],
        isNew: last % 2 === 1,
      };
    }
    return events;
  }

  /** Distinct shapes, attributions and revenues held (they are never forgotten: a site repeats them). */
  get interned(): number {
    return this.shapes.size + this.attributions.size + this.revenues.size;
  }

  private insertPacked(unit: LiveUnit, packed: number[]): void {
    const { data } = unit;
    let at = unit.size;
    while (at > 0 && (unit.ts(at - 1) > packed[0] || (unit.ts(at - 1) === packed[0] && unit.arrival(at - 1) > packed[1]))) at--;
    if (data.length >= EXACT_UP_TO) {
      data.splice(at * STRIDE, 0, ...packed);
    } else {
      // Small units (nearly all) are kept at their exact size: a growing array would reserve half again.
      const next = new Array<number>(data.length + STRIDE);
      const cut = at * STRIDE;
      for (let s = 0; s < cut; s++) next[s] = data[s];
      for (let s = 0; s < STRIDE; s++) next[cut + s] = packed[s];
      for (let s = cut; s < data.length; s++) next[s + STRIDE] = data[s];
      unit.data = next;
    }
  }

  /** Forgets sessions and visitors no event of the unit refers to any more. */
  private compactLists(unit: LiveUnit): void {
    const sessions = new Map<number, number>();
    const visitors = new Map<number, number>();
    const keptSessions: string[] = [];
    const keptVisitors: string[] = [];
    for (let s = LAST; s < unit.data.length; s += STRIDE) {
      const value = unit.data[s];
      const session = Math.floor(value / SESSION_SHIFT);
      const visitor = Math.floor((value % SESSION_SHIFT) / 2);
      let newSession = sessions.get(session);
      if (newSession === undefined) {
        newSession = keptSessions.push(unit.sessions[session]) - 1;
        sessions.set(session, newSession);
      }
      let newVisitor = visitors.get(visitor);
      if (newVisitor === undefined) {
        newVisitor = keptVisitors.push(unit.visitors[visitor]) - 1;
        visitors.set(visitor, newVisitor);
      }
      unit.data[s] = newSession * SESSION_SHIFT + newVisitor * 2 + (value % 2);
    }
    unit.sessions = keptSessions.slice();
    unit.visitors = unit.isLead || keptVisitors.length > 0 ? keptVisitors.slice() : [unit.id];
  }
}
