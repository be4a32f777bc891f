// People lists and correlations (CONTRACT.md, "Who dropped, and why") must add up to the
// report's counts and be the same on both stores: random journeys, random saved funnels, every
// step and status, paged; and the same after a restart (SQLite) or from another collector
// (ClickHouse), and without an erased visitor.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PeoplePage, PeopleQuery, Store, TimeRange } from '../../src/store/types.js';
import { openStore } from '../../src/store/open.js';
import { ClickHouseStore } from '../../src/store/clickhouse/index.js';
import type { FunnelEvent } from '../../src/funnel/index.js';
import { correlationQuestion, PEOPLE_STATUSES, type PeopleStatus, type PersonRow } from '../../src/funnel/people.js';
import type { StoredEvent } from '../../src/event.js';
import { bothStores, skipClickHouse } from './bothStores.js';
import { eventArb, funnelArb } from '../funnel/arbitraries.js';
import { DAY, MIN, T0 } from '../funnel/helpers.js';
import { storedEvent } from './fixture.js';

const both = bothStores('people_conformance');

/**
 * Visitor `v<u>`; every fifth names a lead halfway through. Each unit comes 8 hours after the one
 * before: the first ones' entries are final (persisted rows) by the last ones', which stay live.
 */
function storedUnits(site: string, units: FunnelEvent[][]): StoredEvent[] {
  return units.flatMap((events, u) => events.map((e, i) => {
    const ts = e.ts + u * 8 * 60 * MIN;
    return storedEvent({
      ...e, site, ts, client_ts: ts, id: `e${u}-${i}`, visitor: `v${u}`, session: `v${u}-${e.session}`,
      lead: u % 5 === 0 && i >= events.length / 2 ? `lead-${u}` : null, url: `https://${site}${e.path}`,
    });
  }));
}

async function everyone(store: Store, site: string, range: TimeRange, query: Omit<PeopleQuery, 'after' | 'limit'>): Promise<PersonRow[]> {
  const rows: PersonRow[] = [];
  let after: PeopleQuery['after'] = null;
  for (;;) {
    const page: PeoplePage = (await store.funnelPeople(site, 'f', range, { ...query, limit: 7, after }))!;
    rows.push(...page.rows);
    if (!page.more) return rows;
    const last: PersonRow = page.rows[page.rows.length - 1];
    after = { start: last.start, unit: last.unit, opensAt: last.opensAt };
  }
}

const RANGE = { fromMs: T0 - DAY, toMs: T0 + 8 * DAY };

describe.skipIf(skipClickHouse)('people lists and correlations on SQLite and on ClickHouse', () => {
  let run = 0;

  it('add up to the report, step by step and status by status, and are equal on both stores', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(eventArb, { minLength: 1, maxLength: 10 }), { minLength: 10, maxLength: 20 }),
        funnelArb,
        fc.integer({ min: T0 + 6 * DAY, max: T0 + 7 * DAY }),
        async (units, funnel, now) => {
          const site = `people${++run}.example.com`;
          for (const store of [both.sqlite, both.clickhouse]) {
            await store.putFunnel({ site, id: 'f', definition: funnel.definition, createdAt: 0, updatedAt: 0 });
            await store.write({ events: storedUnits(site, units), bots: [] });
          }
          for (const store of [both.sqlite, both.clickhouse]) await store.settled();
          const report = (await both.sqlite.funnelReport(site, 'f', RANGE, { now }))!;
          const stepCount = funnel.steps.length;
          for (let step = 1; step <= stepCount; step++) {
            for (const status of PEOPLE_STATUSES) {
              const query = { step, status, stepCount, now };
              const rows = await everyone(both.sqlite, site, RANGE, query);
              expect(await everyone(both.clickhouse, site, RANGE, query)).toEqual(rows);
              const counted = report.steps[step - 1];
              const expected: Record<PeopleStatus, number> = {
                reached: counted.entered,
                dropped: counted.exited - counted.in_flight,
                in_flight: counted.in_flight,
                converted: report.steps[stepCount - 1].entered,
              };
              expect(rows.length, `${status} at step ${step}`).toBe(expected[status]);
              // In list order, each entry once.
              const keys = rows.map((r) => `${r.start}\n${r.unit}\n${r.opensAt}`);
              expect(new Set(keys).size).toBe(keys.length);
            }
          }
          for (const step of [undefined, ...Array.from({ length: stepCount - 1 }, (_, k) => k + 1)]) {
            const question = correlationQuestion(step, stepCount, now);
            const counts = (await both.sqlite.funnelFactors(site, 'f', RANGE, question))!;
            expect(await both.clickhouse.funnelFactors(site, 'f', RANGE, question)).toEqual(counts);
            const from = report.steps[question.from - 1];
            const wentOn = report.steps[question.goal - 1].entered;
            expect(counts.wentOn).toBe(wentOn);
            // Those still in flight between `from` and the goal are neither.
            const inFlight = report.steps.slice(question.from - 1, question.goal - 1).reduce((n, s) => n + s.in_flight, 0);
            expect(counts.stopped).toBe(from.entered - wentOn - inFlight);
          }
        },
      ),
      { numRuns: 12 },
    );
  }, 300_000);

  it('survive a restart (SQLite), are read alike by another collector (ClickHouse), and forget an erased visitor', async () => {
    const site = 'people-restart.example.com';
    const units = fc.sample(fc.array(fc.array(eventArb, { minLength: 3, maxLength: 10 }), { minLength: 20, maxLength: 20 }), { seed: 11, numRuns: 1 })[0];
    const definition = { name: 'Home to purchase', window: '1h', steps: [{ name: 'Home', event: 'pageview', path: '/' }, { name: 'Signup', event: 'signup' }] };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-people-'));
    const file = `sqlite:${path.join(dir, 'funnelbeam.db')}`;
    let sqlite = await openStore(file);
    const query = { step: 1, status: 'reached' as const, stepCount: 2, now: T0 + DAY };
    try {
      for (const store of [sqlite, both.clickhouse]) {
        await store.putFunnel({ site, id: 'f', definition, createdAt: 0, updatedAt: 0 });
        await store.write({ events: storedUnits(site, units), bots: [] });
        await store.settled();
      }
      const before = await everyone(sqlite, site, RANGE, query);
      expect(before.length).toBeGreaterThan(3);
      await sqlite.close();
      sqlite = await openStore(file);
      await sqlite.settled();
      expect(await everyone(sqlite, site, RANGE, query)).toEqual(before);
      const other = await ClickHouseStore.open(both.clickhouseUrl, { materialize: false });
      try {
        expect(await everyone(other, site, RANGE, query)).toEqual(before);
      } finally {
        await other.close();
      }
      // The last visitor who only landed signs up (recent: taken live): its cached row (SQLite) gives way to the new one.
      const stopped = before.findLast((row) => row.lead === null && row.reached === 1)!;
      expect(stopped).toBeDefined();
      {
        const signup = storedEvent({ site, ts: stopped.start + 60_000, client_ts: stopped.start + 60_000, id: 'late-signup', name: 'signup', visitor: stopped.visitor, url: `https://${site}/` });
        for (const store of [sqlite, both.clickhouse]) {
          await store.write({ events: [signup], bots: [] });
          await store.settled();
        }
        const converted = await everyone(sqlite, site, RANGE, { ...query, status: 'converted' });
        expect(converted.some((row) => row.visitor === stopped.visitor)).toBe(true);
        expect(await everyone(both.clickhouse, site, RANGE, { ...query, status: 'converted' })).toEqual(converted);
      }
      const erased = before.find((row) => row.lead === null)!.visitor;
      for (const store of [sqlite, both.clickhouse]) {
        await store.deleteVisitor(site, erased);
        await store.settled();
        const after = await everyone(store, site, RANGE, query);
        expect(after.some((row) => row.visitor === erased)).toBe(false);
        expect(after.length).toBe(before.filter((row) => row.visitor !== erased).length);
      }
    } finally {
      await sqlite.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
