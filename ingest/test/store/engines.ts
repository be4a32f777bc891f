// The engines a per-engine store suite runs on: a fresh SQLite file, or a fresh database on a
// throwaway ClickHouse (server, chDB or cluster: test-support/clickhouse.ts) started once for
// the file. Each suite says which tables `mergeAll` merges, where it compares merged states.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { Store } from '../../src/store/types.js';
import { openStore } from '../../src/store/open.js';
import { canSkipClickHouse, databaseOf, startClickHouse, type RunningClickHouse } from '../../../test-support/clickhouse.js';

export interface Engine {
  name: string;
  /** A fresh, empty database; every call of `open` on it opens another store on the same data. */
  database(): { url: string; open(): Promise<Store> };
  /** Merges everything that is waiting to merge, where the engine merges in the background. */
  mergeAll?(url: string): Promise<void>;
}

export interface Engines {
  /** SQLite, and ClickHouse unless it cannot run here. */
  list: Engine[];
  skipClickHouse: boolean;
  /** The ClickHouse started for the file (null before `beforeAll`, or when skipped). */
  clickhouse(): RunningClickHouse | null;
}

/** Registers the hooks that start (and stop) ClickHouse for the file; databases are named `<prefix>_<n>`. */
export function storeEngines(prefix: string, mergedTables: readonly string[]): Engines {
  const skipClickHouse = canSkipClickHouse();
  let clickhouse: RunningClickHouse | null = null;
  let serial = 0;
  beforeAll(async () => {
    if (skipClickHouse) return;
    const started = Date.now();
    clickhouse = await startClickHouse();
    console.info(`clickhouse-server answered /ping ${Date.now() - started} ms after start`);
  });
  afterAll(async () => {
    await clickhouse?.stop();
  });
  const sqlite: Engine = {
    name: 'sqlite',
    database() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `funnelbeam-${prefix}-`));
      const url = `sqlite:${path.join(dir, 'funnelbeam.db')}`;
      return { url, open: () => openStore(url) };
    },
  };
  const clickhouseEngine: Engine = {
    name: 'clickhouse',
    database() {
      if (!clickhouse) throw new Error('ClickHouse is not running');
      const url = clickhouse.databaseUrlFor(`${prefix}_${++serial}`);
      return { url, open: () => openStore(url) };
    },
    async mergeAll(url) {
      for (const table of mergedTables) await clickhouse!.command(`OPTIMIZE TABLE ${databaseOf(url)}.${table} FINAL`);
    },
  };
  return { list: [sqlite, ...(skipClickHouse ? [] : [clickhouseEngine])], skipClickHouse, clickhouse: () => clickhouse };
}
