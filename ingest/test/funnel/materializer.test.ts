// The materialized engine against a brute-force reading of the semantics: whatever order
// events arrive in (inside the open horizon), wherever the live state was made final, restarted
// or back-filled, a report is the report of every unit's entries over all history.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BREAKDOWN_DIMENSIONS, aggregateJourneys, createFunnelAggregate, mergeAggregates, parseFunnelDefinition,
  type BreakdownDimension, type FunnelAggregate, type ParsedFunnel,
} from '../../src/funnel/index.js';
import { matchEntries, SESSION_TAIL_MS } from '../../src/funnel/entries.js';
import { IDENTITY_LOOKBACK_MS, joinsLead, unitOf, type IdentityLink } from '../../src/funnel/identity.js';
import { FINAL_AFTER_MS, LATE_AFTER_MS, finalThreshold } from '../../src/funnel/horizon.js';
import { SiteFunnels, type Finalized } from '../../src/funnel/materializer.js';
import type { LiveInput } from '../../src/funnel/liveUnits.js';
import { backfillFunnel } from '../../src/funnel/backfill.js';
import { composeReport, previewReport, previewSpan } from '../../src/funnel/preview.js';
import { decodeAggregate, encodeAggregate } from '../../src/funnel/aggregateCodec.js';
import { DAY, HOUR, MIN, T0, event, page } from './helpers.js';
import { funnelArb, historyArb, linksOf, referenceReport, type Arrived } from './reference.js';

/** A store's side of the materializer: final days persisted (here: kept as encoded text), merged with the live part for a report. */
class FakeStore {
  readonly finalDays = new Map<string, string>();
  threshold = -Infinity;
  chainEnds = new Map<string, number>();

  persist(finalized: Finalized[], funnel: ParsedFunnel): void {
    for (const f of finalized) {
      for (const [day, delta] of f.days) {
        const before = this.finalDays.get(day);
        const total = before ? decodeAggregate(before) : createFunnelAggregate(funnel.steps.length);
        this.finalDays.set(day, encodeAggregate(mergeAggregates(total, delta)));
      }
      for (const [unit, end] of f.chainEnds) this.chainEnds.set(unit, end);
      this.threshold = f.threshold;
    }
  }

  report(site: SiteFunnels, funnel: ParsedFunnel, range: { fromMs: number; toMs: number }, now: number, breakdown?: BreakdownDimension) {
    const parts: FunnelAggregate[] = [];
    for (const [day, text] of this.finalDays) {
      const ms = Date.parse(`${day}T00:00:00Z`);
      if (ms >= range.fromMs && ms < range.toMs) parts.push(decodeAggregate(text));
    }
    parts.push(site.liveAggregate('f', range, { openAt: now, only: breakdown ?? null })!);
    return composeReport(funnel, parts, range, { now, breakdown });
  }
}

const RANGES = [
  { fromMs: T0 - DAY, toMs: T0 + 16 * DAY },
  { fromMs: T0 + 3 * DAY, toMs: T0 + 8 * DAY },
];
const queryArb = fc.record({
  range: fc.constantFrom(...RANGES),
  now: fc.integer({ min: T0, max: T0 + 16 * DAY }),
  breakdown: fc.constantFrom(undefined, ...BREAKDOWN_DIMENSIONS),
});

/** A store's events by arrival, read back for idle units (as SQLite does by rowid); `resident` units keep theirs. */
function loaderOf(arrived: readonly Arrived[]) {
  const byArrival = new Map(arrived.map((e) => [e.arrival, e]));
  return (arrivals: readonly number[]) => arrivals.flatMap((a) => byArrival.get(a) ?? []);
}

function liveRun(arrived: readonly Arrived[], funnel: ParsedFunnel, advanceEvery: number, resident?: number) {
  const site = resident === undefined ? new SiteFunnels('s') : new SiteFunnels('s', loaderOf(arrived), resident);
  const store = new FakeStore();
  site.addFunnel({ id: 'f', funnel, threshold: -Infinity, chainEnds: new Map() });
  site.sweep('f');
  arrived.forEach((e, i) => {
    expect(site.observe(e)).toBe('taken');
    if (i % advanceEvery === advanceEvery - 1) store.persist(site.advance(), funnel);
  });
  store.persist(site.advance(), funnel);
  return { site, store };
}

describe('the materialized engine', () => {
  it('reports every unit\'s entries over all history, whatever it made final along the way', () => {
    fc.assert(
      fc.property(historyArb, funnelArb, fc.integer({ min: 1, max: 20 }), queryArb, (arrived, funnel, every, q) => {
        const { site, store } = liveRun(arrived, funnel, every);
        expect(store.report(site, funnel, q.range, q.now, q.breakdown)).toEqual(referenceReport(arrived, funnel, q.range, q.now, q.breakdown));
      }),
      { numRuns: 150 },
    );
  });

  it('gives the same when idle units keep only their keys and read their events back', () => {
    fc.assert(
      fc.property(historyArb, funnelArb, fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 3 }), queryArb, (arrived, funnel, every, resident, q) => {
        const { site, store } = liveRun(arrived, funnel, every, resident);
        expect(site.live.residentCount).toBeLessThanOrEqual(Math.max(resident, 1) + 1);
        expect(store.report(site, funnel, q.range, q.now, q.breakdown)).toEqual(referenceReport(arrived, funnel, q.range, q.now, q.breakdown));
      }),
      { numRuns: 150 },
    );
  });

  it('gives the same after a restart from what the store persisted and the events it kept', () => {
    fc.assert(
      fc.property(historyArb, funnelArb, fc.double({ min: 0, max: 1, noNaN: true }), queryArb, (arrived, funnel, cut, q) => {
        const split = Math.floor(arrived.length * cut);
        const first = liveRun(arrived.slice(0, split), funnel, 5);
        // Restart: links, watermark and the persisted progress restored; events from liveFrom loaded in time order.
        const site = new SiteFunnels('s');
        for (const [visitor, link] of linksOf(arrived.slice(0, split))) site.restoreLink(visitor, link);
        site.raiseWatermark(Math.max(-Infinity, ...arrived.slice(0, split).map((e) => e.ts)));
        const chainEnds = new Map([...first.store.chainEnds]);
        site.addFunnel({ id: 'f', funnel, threshold: first.store.threshold, chainEnds });
        const stored = arrived.slice(0, split).filter((e) => e.ts >= site.liveFrom).sort((a, b) => a.ts - b.ts || a.arrival - b.arrival);
        for (const e of stored) site.load(e);
        site.sweep('f');
        for (const e of arrived.slice(split)) expect(site.observe(e)).toBe('taken');
        first.store.persist(site.advance(), funnel);
        expect(first.store.report(site, funnel, q.range, q.now, q.breakdown)).toEqual(referenceReport(arrived, funnel, q.range, q.now, q.breakdown));
      }),
      { numRuns: 150 },
    );
  });

  it('back-fills a funnel defined later: history made final, the open part matched from the live events', async () => {
    await fc.assert(
      fc.asyncProperty(historyArb, funnelArb, queryArb, async (arrived, funnel, q) => {
        // The site ran without this funnel: the live state only kept links and the watermark.
        const site = new SiteFunnels('s');
        for (const e of arrived) site.observe(e);
        const until = finalThreshold(site.watermark);
        const history = [...arrived].sort((a, b) => a.ts - b.ts || a.arrival - b.arrival);
        // As a store runs it: only the events before `until`.
        const result = await backfillFunnel(history.filter((e) => e.ts < until), funnel, { until, links: linksOf(arrived) });
        const store = new FakeStore();
        for (const [day, aggregate] of result.days) store.finalDays.set(day, encodeAggregate(aggregate));
        site.addFunnel({ id: 'f', funnel, threshold: until, chainEnds: result.chainEnds });
        for (const e of history) site.load(e);
        site.sweep('f');
        expect(store.report(site, funnel, q.range, q.now, q.breakdown)).toEqual(referenceReport(arrived, funnel, q.range, q.now, q.breakdown));
      }),
      { numRuns: 100 },
    );
  });
});

describe('finality and memory', () => {
  const shop = parseFunnelDefinition({ name: 'Shop', window: '1h', steps: [
    { name: 'Home', event: 'pageview', path: '/' }, { name: 'Signup', event: 'signup' },
  ] });
  if (!shop.ok) throw new Error(shop.error);
  const funnel = shop.funnel;
  let arrival = 0;
  const input = (e: ReturnType<typeof event>, visitor: string, lead: string | null = null): LiveInput => ({ ...e, visitor, lead, arrival: ++arrival });

  it('forgets the events of closed windows and hands their entries to the store once', () => {
    const site = new SiteFunnels('s');
    site.addFunnel({ id: 'f', funnel, threshold: -Infinity, chainEnds: new Map() });
    site.sweep('f');
    for (let day = 0; day < 10; day++) {
      site.observe(input(page(T0 + day * DAY, '/'), `v${day}`));
      site.observe(input(event(T0 + day * DAY + MIN, 'signup'), `v${day}`));
    }
    const finalized = site.advance();
    const days = [...finalized[0].days.keys()].sort();
    // The newest event is on day 9: entries of days up to 9 - (1 h + tail + final-after) are final.
    const last = Math.floor((9 * DAY - HOUR - SESSION_TAIL_MS - FINAL_AFTER_MS) / DAY);
    expect(days).toEqual(Array.from({ length: last + 1 }, (_, d) => new Date(T0 + d * DAY).toISOString().slice(0, 10)));
    expect(site.live.events).toBe(2 * (10 - days.length));
    // Advancing again with nothing new makes nothing final twice.
    expect(site.advance()).toEqual([]);
  });

  it('refuses events older than the open horizon, and takes the rest', () => {
    const site = new SiteFunnels('s');
    site.addFunnel({ id: 'f', funnel, threshold: -Infinity, chainEnds: new Map() });
    site.sweep('f');
    expect(site.observe(input(page(T0 + 10 * DAY, '/'), 'a'))).toBe('taken');
    expect(site.observe(input(page(T0 + 10 * DAY - LATE_AFTER_MS, '/'), 'b'))).toBe('taken');
    expect(site.observe(input(page(T0 + 10 * DAY - LATE_AFTER_MS - 1, '/'), 'c'))).toBe('late');
  });

  it('joins to a lead the visitor\'s events from the lookback before it was named, not the older ones', () => {
    const link: IdentityLink = { lead: 'L', at: T0 + DAY };
    expect(joinsLead({ ts: T0 + DAY + 1 }, link)).toBe(true);
    expect(joinsLead({ ts: T0 + DAY - IDENTITY_LOOKBACK_MS }, link)).toBe(true);
    expect(joinsLead({ ts: T0 + DAY - IDENTITY_LOOKBACK_MS - 1 }, link)).toBe(false);
  });

  it('moves a visitor\'s open journey to its lead when it names one', () => {
    const site = new SiteFunnels('s');
    site.addFunnel({ id: 'f', funnel, threshold: -Infinity, chainEnds: new Map() });
    site.sweep('f');
    site.observe(input(page(T0, '/', { session: 'x' }), 'v'));
    site.refresh();
    expect(site.liveAggregate('f', { fromMs: T0, toMs: T0 + DAY }, {})!.steps[0].stopped).toBe(1);
    site.observe(input(event(T0 + MIN, 'signup', { session: 'x' }), 'v', 'L'));
    const live = site.liveAggregate('f', { fromMs: T0, toMs: T0 + DAY }, {})!;
    expect(live.steps.map((s) => s.stopped)).toEqual([0, 1]);
  });

  it('previews from the events of its span alone', () => {
    const events = [input(page(T0, '/'), 'v'), input(event(T0 + MIN, 'signup'), 'v')];
    const range = { fromMs: T0, toMs: T0 + DAY };
    expect(previewSpan(funnel, range)).toEqual({ fromMs: T0 - HOUR, toMs: T0 + DAY + HOUR + SESSION_TAIL_MS });
    expect(previewReport(events, () => undefined, funnel, range, { now: T0 }).converted).toBe(1);
  });
});
