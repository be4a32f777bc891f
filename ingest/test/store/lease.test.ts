// The sender lease on a real ClickHouse: of collectors racing for it, exactly one holds it,
// the others see that, and a released lease passes on at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { openStore } from '../../src/store/open.js';
import { holdingClaim, Lease, type LeaseIo } from '../../src/store/clickhouse/lease.js';
import type { Row } from '../../src/store/rows.js';
import { canSkipClickHouse, startClickHouse, type RunningClickHouse } from '../../../test-support/clickhouse.js';

describe('holdingClaim', () => {
  it('is the earliest claim of the term, ties going to the smaller holder id', () => {
    const claim = (holder: string, claimedAt: number) => ({ term: 3, holder, claimedAt, renewedAt: claimedAt + 5 });
    expect(holdingClaim([])).toBeNull();
    expect(holdingClaim([claim('b', 20), claim('c', 10), claim('a', 30)])?.holder).toBe('c');
    expect(holdingClaim([claim('b', 10), claim('a', 10)])?.holder).toBe('a');
  });
});

const skipClickHouse = canSkipClickHouse();
let clickhouse: RunningClickHouse | null = null;
let client: ClickHouseClient;

beforeAll(async () => {
  if (skipClickHouse) return;
  clickhouse = await startClickHouse();
  // Opening a store creates the database and its tables (leases among them).
  const url = clickhouse.databaseUrlFor('lease');
  await (await openStore(url)).close();
  const { username, password, pathname } = new URL(url);
  client = createClient({ url: clickhouse.url, username, password: decodeURIComponent(password), database: pathname.slice(1) });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await clickhouse?.stop();
});

describe.skipIf(skipClickHouse)('a lease on ClickHouse', () => {
  const io: LeaseIo = {
    rows: async (query) => (await client.query({ query, format: 'JSONEachRow' })).json<Row>(),
    insert: async (table, values) => { await client.insert({ table, values, format: 'JSONEachRow' }); },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };

  it('is held by exactly one of several claiming at once, which keeps it, and passes on when released', async () => {
    const leases = [0, 1, 2].map(() => new Lease('test-sender', io, 250));
    const first = await Promise.all(leases.map((lease) => lease.hold()));
    expect(first.filter(Boolean)).toHaveLength(1);
    const holder = leases[first.indexOf(true)];
    const others = leases.filter((lease) => lease !== holder);
    // Asked again, each gives the same answer: the holder keeps it, the others see it taken.
    expect(await Promise.all(leases.map((lease) => lease.hold()))).toEqual(first);
    await holder.release();
    const next = await Promise.all(others.map((lease) => lease.hold()));
    expect(next.filter(Boolean)).toHaveLength(1);
    expect(await holder.hold()).toBe(false);
  });
});
