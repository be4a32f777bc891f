// Where the ClickHouse store's SQL runs: a ClickHouse server over HTTP (@clickhouse/client), or
// chDB, a current ClickHouse inside this process (the npm package `chdb`, optional). The store
// speaks to either through these five calls, and learns the server's version on connecting, to
// use a current release's extras (async inserts) only where they exist.
import { createClient, type ClickHouseSettings } from '@clickhouse/client';
import type { Row } from '../rows.js';
import { createDatabase, databaseName } from './sql.js';

export interface SqlConnection {
  /** `SELECT version()`: "18.16.1", "26.7.2.1", … */
  readonly version: string;
  /** Rows of a SELECT; 64-bit integers arrive as strings, as 18.16's JSON quotes them. */
  rows(query: string): Promise<Row[]>;
  /** A large SELECT's rows, a block at a time. */
  stream(query: string): AsyncIterable<Row[]>;
  command(query: string): Promise<void>;
  insert(table: string, values: Row[], settings?: Record<string, number>): Promise<void>;
  close(): Promise<void>;
}

/** Whether the server takes `async_insert` with `wait_for_async_insert` (ClickHouse 21.11 on). */
export function hasAsyncInserts(version: string): boolean {
  const [major, minor] = version.split('.').map(Number);
  return major > 21 || (major === 21 && minor >= 11);
}

/** The memory a query may use on the server, for this user (0: no limit). */
const MEMORY_LIMIT = `SELECT value FROM system.settings WHERE name = 'max_memory_usage'`;

/**
 * Reads that group every event of a range (stats and exports keep each event's first copy by
 * GROUP BY) need memory in proportion to the range's events: at 10M events, 1.9 GB, over a
 * server limit of 2 GB. With a limit, a GROUP BY past half of it goes on on disk instead of
 * failing (as ClickHouse's documentation advises), and so does a sort.
 */
export function spillSettings(rows: readonly Row[]): ClickHouseSettings {
  const limit = Number(rows[0]?.value ?? 0);
  if (!Number.isFinite(limit) || limit <= 0) return {};
  const half = String(Math.floor(limit / 2));
  return { max_bytes_before_external_group_by: half, max_bytes_before_external_sort: half };
}

export interface HttpTarget {
  url: string;
  username: string;
  password: string;
  database: string;
  /** Session settings of every query (a cluster's: cluster.ts). */
  settings?: ClickHouseSettings;
  /**
   * How long a command (DDL, a mutation) may take, when longer than a query's 30 s: an ON CLUSTER
   * statement answers once every server has run it (cluster.ts).
   */
  commandTimeoutMs?: number;
}

/** A server over HTTP; the database is created when missing. */
export async function httpConnection(target: HttpTarget): Promise<SqlConnection> {
  const connection = {
    url: target.url, username: target.username, password: target.password,
    // A socket left idle past the server's keep-alive (3 s before 23.11) is closed by it; after
    // a long event-loop stall, a lazy check would still send on it and get "socket hang up".
    keep_alive: { idle_socket_ttl: 2000, eagerly_destroy_stale_sockets: true },
  };
  const bootstrap = createClient(connection);
  let spill: ClickHouseSettings;
  try {
    await bootstrap.command({ query: createDatabase(target.database) });
    spill = spillSettings(await (await bootstrap.query({ query: MEMORY_LIMIT, format: 'JSONEachRow' })).json<Row>());
  } finally {
    await bootstrap.close();
  }
  const settings = { ...spill, ...target.settings };
  const client = createClient({ ...connection, database: target.database, clickhouse_settings: settings });
  const commands = target.commandTimeoutMs
    ? createClient({
      ...connection, database: target.database, request_timeout: target.commandTimeoutMs,
      // Progress headers keep a long command's connection busy, so no proxy between closes it as idle.
      clickhouse_settings: { ...settings, send_progress_in_http_headers: 1, http_headers_progress_interval_ms: '10000' },
    })
    : client;
  const rows = async (query: string) => (await client.query({ query, format: 'JSONEachRow' })).json<Row>();
  const [{ version }] = await rows('SELECT version() AS version');
  return {
    version: String(version),
    rows,
    async *stream(query) {
      const result = await client.query({ query, format: 'JSONEachRow' });
      for await (const block of result.stream<Row>()) yield block.map((row) => row.json());
    },
    command: async (query) => void (await commands.command({ query })),
    insert: async (table, values, settings) => void (await client.insert({ table, values, format: 'JSONEachRow', clickhouse_settings: settings })),
    async close() {
      await client.close();
      if (commands !== client) await commands.close();
    },
  };
}

// ---- chDB: one data directory per process (the engine's own rule), shared by every store
// opened on it; each database gets a few sessions, as a server gets a few connections.

/** Sessions per database: one runs one query at a time, so reports need not wait behind an insert. */
const SESSIONS = 4;
type Chdb = typeof import('chdb');
let engine: { dir: string; chdb: Chdb; users: number } | null = null;

/** chDB in this process, on `dir`; `chdb:PATH?database=NAME`. The package is optional (CI installs it). */
export async function chdbConnection(dir: string, database: string): Promise<SqlConnection> {
  databaseName(database);
  if (engine && engine.dir !== dir) throw new Error(`chDB runs one data directory per process: ${engine.dir} is open, not ${dir}`);
  let chdb: Chdb;
  try {
    chdb = engine?.chdb ?? (await import('chdb'));
  } catch {
    throw new Error('chdb: URLs need the optional package chdb (npm install chdb)');
  }
  engine ??= { dir, chdb, users: 0 };
  engine.users++;
  // As 18.16's HTTP interface does: 64-bit integers quoted in JSON, and one part per insert
  // (chDB turns async inserts on by default; the store asks for them where it wants them).
  const open = () => new chdb.Session(dir, { connectionArgs: ['--output_format_json_quote_64bit_integers=1', '--async_insert=0'] });
  const setup = open();
  await setup.queryAsync(createDatabase(database));
  setup.close();
  const idle: import('chdb').Session[] = [];
  const waiting: ((session: import('chdb').Session) => void)[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const session = open();
    await session.queryAsync(`USE ${database}`);
    idle.push(session);
  }
  const acquire = () => new Promise<import('chdb').Session>((resolve) => {
    const session = idle.pop();
    if (session) resolve(session);
    else waiting.push(resolve);
  });
  const release = (session: import('chdb').Session) => {
    const next = waiting.shift();
    if (next) next(session);
    else idle.push(session);
  };
  const using = async <T>(work: (session: import('chdb').Session) => Promise<T>): Promise<T> => {
    const session = await acquire();
    try {
      return await work(session);
    } finally {
      release(session);
    }
  };
  const rows = (query: string) => using(async (session) =>
    (await session.queryAsync(query, { format: 'JSONEachRow' })).text().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Row));
  const [{ version }] = await rows('SELECT version() AS version');
  return {
    version: String(version),
    rows,
    async *stream(query) {
      // A stream holds its session until it ends: any other query on it would cut the stream.
      const session = await acquire();
      try {
        let block: Row[] = [];
        for await (const row of session.queryStream(query, { format: 'JSONEachRow' }).rows()) {
          block.push(row as Row);
          if (block.length === 1000) {
            yield block;
            block = [];
          }
        }
        if (block.length > 0) yield block;
      } finally {
        release(session);
      }
    },
    command: (query) => using(async (session) => void (await session.queryAsync(query))),
    insert: (table, values, settings) => using(async (session) => {
      if (values.length === 0) return;
      await session.insert({ table, format: 'JSONEachRow', values: Buffer.from(values.map((v) => JSON.stringify(v)).join('\n') + '\n'), settings });
    }),
    async close() {
      for (let i = 0; i < SESSIONS; i++) (await acquire()).close();
      if (engine && --engine.users === 0) {
        await engine.chdb.drainPending();
        engine = null;
      }
    },
  };
}
