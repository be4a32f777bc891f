// One store on each engine, for the suites that hold ClickHouse to SQLite's numbers: a
// throwaway clickhouse-server and a SQLite file in a temp dir, opened before the file's tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { Store } from '../../src/store/types.js';
import { openStore } from '../../src/store/open.js';
import { canSkipClickHouse, limitFor, startClickHouse, type RunningClickHouse } from '../../../test-support/clickhouse.js';

export const skipClickHouse = canSkipClickHouse();

export interface BothStores {
  sqlite: Store;
  clickhouse: Store;
  /** The ClickHouse store's DATABASE_URL, to open more stores on the same data. */
  clickhouseUrl: string;
  /** The ClickHouse (server or chDB) the store runs on. */
  server: RunningClickHouse;
}

/** Registers the hooks that open (and close) the two stores; the object is filled in by the time tests run. */
export function bothStores(database: string): BothStores {
  const stores = {} as BothStores;
  let server: RunningClickHouse | null = null;
  beforeAll(async () => {
    if (skipClickHouse) return;
    server = await startClickHouse();
    stores.server = server;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `funnelbeam-${database}-`));
    stores.clickhouseUrl = server.databaseUrlFor(database);
    stores.sqlite = await openStore(`sqlite:${path.join(dir, 'funnelbeam.db')}`);
    stores.clickhouse = await openStore(stores.clickhouseUrl);
  }, limitFor(60_000));
  afterAll(async () => {
    await stores.sqlite?.close();
    await stores.clickhouse?.close();
    await server?.stop();
  });
  return stores;
}
