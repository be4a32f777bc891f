// Chooses the storage engine from DATABASE_URL.
import type { Store } from './types.js';
import { SqliteStore } from './sqlite/index.js';
import { ClickHouseStore } from './clickhouse/index.js';
import { ConfigError } from '../config.js';

/** A configuration error: `npm start` reports it in one line, not as a crash. */
export class UnsupportedDatabaseUrl extends ConfigError {}

export async function openStore(databaseUrl: string, options: { sqliteSynchronous?: 'NORMAL' | 'FULL'; clickhouseCluster?: string | null } = {}): Promise<Store> {
  if (databaseUrl.startsWith('sqlite:')) {
    return new SqliteStore(databaseUrl.slice('sqlite:'.length), { synchronous: options.sqliteSynchronous });
  }
  // chdb:PATH?database=NAME runs a current ClickHouse inside this process (the optional package chdb): for tests.
  if (databaseUrl.startsWith('clickhouse://') || databaseUrl.startsWith('chdb:')) {
    return ClickHouseStore.open(databaseUrl, { cluster: options.clickhouseCluster });
  }
  throw new UnsupportedDatabaseUrl(
    `DATABASE_URL must be sqlite:PATH or clickhouse://USER:PASS@HOST:8123/DB, got ${databaseUrl.split(':')[0]}:`,
  );
}
