// Reads that keep each event's first copy group every event of their range, so their memory
// follows the range's events: on a server whose queries may use little memory, stats go on on
// disk past half of it instead of failing (connection.ts, spillSettings). Without the spill
// settings this read failed at this limit; so does an export of the range, spill or not (its
// sort after the grouping), which is left as a known limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseStore } from '../../src/store/clickhouse/index.js';
import { canSkipClickHouse, clickHouseEngine, startClickHouse, type RunningClickHouse } from '../../../test-support/clickhouse.js';
import { storedEvent } from './fixture.js';

const SITE = 'memory.example.com';
const EVENTS = 600_000;
/** Less than grouping EVENTS events takes in memory, enough for an insert of 10,000. */
const MAX_MEMORY_USAGE = 150_000_000;

let server: RunningClickHouse | null = null;
beforeAll(async () => {
  if (!canSkipClickHouse() && clickHouseEngine === 'server') server = await startClickHouse({ maxMemoryUsage: MAX_MEMORY_USAGE });
}, 60_000);
afterAll(async () => server?.stop());

describe.skipIf(canSkipClickHouse() || clickHouseEngine !== 'server')('a ClickHouse server whose queries may use little memory', () => {
  it('still answers stats over more events than that memory holds', async () => {
    const store = await ClickHouseStore.open(server!.databaseUrlFor('memory'), { materialize: false });
    try {
      const start = Date.UTC(2026, 10, 1);
      for (let i = 0; i < EVENTS; i += 10_000) {
        await store.write({ events: Array.from({ length: 10_000 }, (_, k) => {
          const n = i + k;
          return storedEvent({ site: SITE, id: `e${n}`, visitor: `v${n % 40_000}`, ts: start + n * 1_000, client_ts: start + n * 1_000, url: `https://${SITE}/p${n % 97}` });
        }), bots: [] });
      }
      const range = { fromMs: start, toMs: start + 10 * 86_400_000 };
      expect(await store.stats(SITE, range)).toMatchObject({ events: EVENTS, pageviews: EVENTS, visitors: 40_000 });
    } finally {
      await store.close();
    }
  }, 120_000);
});
