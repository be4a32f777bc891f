// The events of a site that funnels may still need (those of entries whose windows are open),
// grouped by unit, packed: memory follows the traffic of the longest open window, so each
// event is seven numbers in its unit's array rather than an object, and what events repeat
// (name, path and properties; the visit's attribution; revenue) is kept once per site.
//
// An event is flagged new until the funnels have matched it: a unit's journeys as they were
// counted are matched again from its events without the flag, and taken back, before the
// journeys of all its events are added (the store keeps no journey per unit).
import type { PropValue } from '../event.js';
import type { FunnelEvent } from './journey.js';

/** What the live state reads of a stored event. */
export interface LiveInput extends FunnelEvent {
  visitor: string;
  lead: string | null;
  /** The store's order of arrival (SQLite: rowid; ClickHouse: the arrival clock): it orders events of equal ts. */
  arrival: number;
}

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

interface Attribution {
  channel: string;
  source: string | null;
  medium: string | null;
  campaign: string | null;
  device: string | null;
  browser: string | null;
  variant: string | null;
  landing: string;
}

// Slots of an event: ts, arrival, shape, attribution × 2^26 + revenue, engaged ms (-1: none),
// scroll (-1: none), session × 2^21 + visitor × 2 + new. Every packed value stays below 2^53.
const STRIDE = 7;
const LAST = STRIDE - 1;
const ATTRIBUTION_SHIFT = 2 ** 26;
const SESSION_SHIFT = 2 ** 21;
const MAX_VISITORS_PER_UNIT = 2 ** 20;

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

export class LiveUnit {
  /** Packed events in (ts, arrival) order, STRIDE numbers each. */
  data: number[] = [];
  sessions: string[] = [];
  visitors: string[] = [];
  /** Some event is flagged new. */
  hasNew = false;

  constructor(readonly key: string) {}

  get size(): number {
    return this.data.length / STRIDE;
  }

  /** ts of the oldest event (Infinity when empty). */
  get firstTs(): number {
    return this.data.length === 0 ? Infinity : this.data[0];
  }

  ts(index: number): number {
    return this.data[index * STRIDE];
  }

  arrival(index: number): number {
    return this.data[index * STRIDE + 1];
  }

  indexOfSession(session: string): number {
    const at = this.sessions.lastIndexOf(session);
    return at >= 0 ? at : this.sessions.push(session) - 1;
  }

  indexOfVisitor(visitor: string): number {
    const at = this.visitors.lastIndexOf(visitor);
    if (at >= 0) return at;
    if (this.visitors.length >= MAX_VISITORS_PER_UNIT) throw new Error(`unit ${this.key} holds too many visitors`);
    return this.visitors.push(visitor) - 1;
  }
}

export class LiveUnits {
  readonly units = new Map<string, LiveUnit>();
  private readonly shapes = new Interner<Shape>();
  private readonly attributions = new Interner<Attribution>();
  private readonly revenues = new Interner<{ amount: number; currency: string } | null>();
  private eventCount = 0;

  constructor() {
    this.revenues.id('', () => null);
  }

  get events(): number {
    return this.eventCount;
  }

  unit(key: string): LiveUnit {
    let unit = this.units.get(key);
    if (!unit) {
      unit = new LiveUnit(key);
      this.units.set(key, unit);
    }
    return unit;
  }

  /** Adds an event to a unit, flagged new, keeping ts order (arrivals are mostly in order: usually a push). */
  add(unit: LiveUnit, event: LiveInput): void {
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
    const packed = [
      event.ts,
      event.arrival,
      shape,
      attribution * ATTRIBUTION_SHIFT + revenue,
      event.engaged_ms ?? -1,
      event.scroll ?? -1,
      unit.indexOfSession(event.session) * SESSION_SHIFT + unit.indexOfVisitor(event.visitor) * 2 + 1,
    ];
    this.insertPacked(unit, packed);
    unit.hasNew = true;
  }

  /** Moves the events `take` picks from one unit to another, flagged new there. Returns how many. */
  move(from: LiveUnit, to: LiveUnit, take: (index: number) => boolean): number {
    const kept: number[] = [];
    let moved = 0;
    for (let i = 0; i < from.size; i++) {
      const slots = from.data.slice(i * STRIDE, (i + 1) * STRIDE);
      if (!take(i)) {
        kept.push(...slots);
        continue;
      }
      const session = from.sessions[Math.floor(slots[LAST] / SESSION_SHIFT)];
      const visitor = from.visitors[Math.floor((slots[LAST] % SESSION_SHIFT) / 2)];
      slots[LAST] = to.indexOfSession(session) * SESSION_SHIFT + to.indexOfVisitor(visitor) * 2 + 1;
      this.insertPacked(to, slots);
      moved++;
    }
    from.data = kept;
    this.eventCount -= moved;
    if (moved > 0) to.hasNew = true;
    this.compactLists(from);
    return moved;
  }

  /** Removes the events `drop` picks; returns how many. */
  remove(unit: LiveUnit, drop: (index: number) => boolean): number {
    const kept: number[] = [];
    let removed = 0;
    for (let i = 0; i < unit.size; i++) {
      if (drop(i)) removed++;
      else for (let s = i * STRIDE; s < (i + 1) * STRIDE; s++) kept.push(unit.data[s]);
    }
    unit.data = kept;
    this.eventCount -= removed;
    if (removed > 0) this.compactLists(unit);
    return removed;
  }

  /** Drops a unit's events older than `ts` (no funnel reads them any more); returns how many. */
  dropBefore(unit: LiveUnit, ts: number): number {
    let n = 0;
    while (n < unit.size && unit.ts(n) < ts) n++;
    if (n === 0) return 0;
    unit.data.splice(0, n * STRIDE);
    this.eventCount -= n;
    this.compactLists(unit);
    return n;
  }

  delete(unit: LiveUnit): void {
    this.eventCount -= unit.size;
    this.units.delete(unit.key);
  }

  clearNew(unit: LiveUnit): void {
    for (let s = LAST; s < unit.data.length; s += STRIDE) if (unit.data[s] % 2 === 1) unit.data[s] -= 1;
    unit.hasNew = false;
  }

  /** The unit's events as the engine reads them, in ts order. */
  decode(unit: LiveUnit): LiveEvent[] {
    const events: LiveEvent[] = new Array(unit.size);
    for (let i = 0; i < events.length; i++) {
      const d = unit.data;
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
        ...attribution,
        revenue_amount: revenue ? revenue.amount : null,
        revenue_currency: revenue ? revenue.currency : null,
        engaged_ms: d[o + 4] < 0 ? null : d[o + 4],
        scroll: d[o + 5] < 0 ? null : d[o + 5],
        session: unit.sessions[Math.floor(last / SESSION_SHIFT)],
        shape: d[o + 2],
        arrival: d[o + 1],
        visitor: unit.visitors[Math.floor((last % SESSION_SHIFT) / 2)],
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
    let at = unit.size;
    while (at > 0 && (unit.ts(at - 1) > packed[0] || (unit.ts(at - 1) === packed[0] && unit.arrival(at - 1) > packed[1]))) at--;
    if (at === unit.size) unit.data.push(...packed);
    else unit.data.splice(at * STRIDE, 0, ...packed);
    this.eventCount++;
  }

  /** Forgets sessions and visitors no event of the unit refers to any more. */
  private compactLists(unit: LiveUnit): void {
    if (unit.data.length === 0) {
      unit.sessions = [];
      unit.visitors = [];
      return;
    }
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
    unit.sessions = keptSessions;
    unit.visitors = keptVisitors;
  }
}
