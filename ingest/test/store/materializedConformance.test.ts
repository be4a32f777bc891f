// Saved funnels on both stores, held to the semantics read literally (test/funnel/reference.ts):
// random histories of visitors naming leads (identity links), written in arrival order with a
// restart in the middle (SQLite after a clean stop or a crash; on ClickHouse another collector
// takes over), then old history imported (late events: the funnels back-fill again). A funnel
// saved before any event and one saved after all of them (back-filled) report the same, on
// both stores, as the reference does.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/types.js';
import type { StoredEvent } from '../../src/event.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { ClickHouseStore } from '../../src/store/clickhouse/index.js';
import { BREAKDOWN_DIMENSIONS } from '../../src/funnel/index.js';
import { canSkipClickHouse, startClickHouse, type RunningClickHouse } from '../../../test-support/clickhouse.js';
import { funnelArb, historyArb, referenceReport, type Arrived } from '../funnel/reference.js';
import { DAY, T0 } from '../funnel/helpers.js';
import { storedEvent } from './fixture.js';

const skip = canSkipClickHouse();
let server: RunningClickHouse | null = null;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-materialized-'));

beforeAll(async () => {
  if (!skip) server = await startClickHouse();
}, 60_000);

afterAll(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** An event of the history as a store keeps it (its arrival is its place in the writing order). */
function stored(site: string, e: Arrived, i: number): StoredEvent {
  return storedEvent({
    ...e, site, id: `e${i}`, client_ts: e.ts, url: `https://${site}${e.path}`, term: null, content: null, os: null, referrer: null,
  });
}

const RANGES = [{ fromMs: T0 - 60 * DAY, toMs: T0 + 16 * DAY }, { fromMs: T0 + 3 * DAY, toMs: T0 + 8 * DAY }];

describe.skipIf(skip)('saved funnels on both stores', () => {
  let run = 0;

  it('report as the semantics say, through restarts, back-fills and imports of old history', async () => {
    await fc.assert(
      fc.asyncProperty(
        historyArb, historyArb, funnelArb, fc.double({ min: 0.2, max: 0.8, noNaN: true }), fc.boolean(),
        fc.integer({ min: T0, max: T0 + 16 * DAY }), fc.constantFrom(undefined, ...BREAKDOWN_DIMENSIONS),
        async (live, old, funnel, cut, crash, now, breakdown) => {
          const site = `m${++run}.example.com`;
          // The old history: the same kind of visits, 50 days earlier, other visitors; imported after everything else.
          const imported = old.map((e) => ({ ...e, ts: e.ts - 50 * DAY, visitor: `old-${e.visitor}`, session: `old-${e.session}` }));
          const all = [...live, ...imported].map((e, i) => ({ ...e, arrival: i }));
          const events = all.map((e, i) => stored(site, e, i));
          const split = Math.floor(live.length * cut);
          const definition = funnel.definition;

          const file = path.join(dir, `${site}.db`);
          const database = `m${run}`;
          const open = {
            sqlite: async () => new SqliteStore(file) as Store,
            clickhouse: async () => (await ClickHouseStore.open(server!.databaseUrlFor(database))) as Store,
          };
          const reports: unknown[] = [];
          for (const engine of ['sqlite', 'clickhouse'] as const) {
            let store = await open[engine]();
            await store.putFunnel({ site, id: 'before', definition, createdAt: 0, updatedAt: 0 });
            for (let i = 0; i < split; i += 7) await store.write({ events: events.slice(i, Math.min(i + 7, split)), bots: [] });
            await store.settled();
            await store.close();
            if (crash && engine === 'sqlite') new Database(file).prepare('DELETE FROM funnel_snapshot').run();
            store = await open[engine]();
            for (let i = split; i < live.length; i += 7) await store.write({ events: events.slice(i, Math.min(i + 7, live.length)), bots: [] });
            await store.importEvents(events.slice(live.length));
            await store.putFunnel({ site, id: 'after', definition, createdAt: 0, updatedAt: 0 });
            await store.settled();
            for (const range of RANGES) {
              for (const id of ['before', 'after']) {
                const { fresh_until: _, backfill, ...report } = (await store.funnelReport(site, id, range, { now, breakdown }))!;
                expect(backfill, `${engine} ${id}`).toBeNull();
                reports.push(report);
                expect(report, `${engine} ${id}`).toEqual(referenceReport(all, funnel, range, now, breakdown));
              }
            }
            await store.close();
          }
          expect(reports).toHaveLength(8);
        },
      ),
      { numRuns: Number(process.env.RUNS ?? 6), endOnFailure: true, ...(process.env.SEED ? { seed: Number(process.env.SEED), path: process.env.FC_PATH } : {}) },
    );
  }, 600_000);
});
