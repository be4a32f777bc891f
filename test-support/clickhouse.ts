// Starts a throwaway ClickHouse for tests: Debian's clickhouse-server (18.16), its data and
// logs in a temp dir, listening on 127.0.0.1 only, on free ports, one server per test file; or,
// with CLICKHOUSE_ENGINE=chdb, a current ClickHouse (26.7) inside the test process through the
// optional package chdb, on a temp data directory; or, with CLICKHOUSE_ENGINE=cluster, a cluster
// of three 18.16 servers and ZooKeeper (clickhouseCluster.ts). The store conformance suites run on all three.
import { createRequire } from 'node:module';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createClient } from '@clickhouse/client';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RunningClickHouse {
  /** HTTP interface, e.g. http://127.0.0.1:PORT */
  url: string;
  /** DATABASE_URL of the database `funnelbeam` (created by the store on open). */
  databaseUrl: string;
  /** DATABASE_URL of another database on the same server, so tests can start from empty. */
  databaseUrlFor(database: string): string;
  /** Runs a statement as the administrator (databases named in it). */
  command(query: string): Promise<void>;
  /** Rows of a SELECT run as the administrator. */
  rows(query: string): Promise<Record<string, unknown>[]>;
  /** Inserts rows (JSONEachRow) into `database.table`, as the administrator. */
  insert(database: string, table: string, rows: Record<string, unknown>[]): Promise<void>;
  stop(): Promise<void>;
  /** The server's process (one clickhouse-server only), for tests that stall it (SIGSTOP). */
  pid?: number;
}

/** `chdb` (CLICKHOUSE_ENGINE=chdb): ClickHouse 26.7 in-process; `cluster`: two shards of 18.16; else one clickhouse-server. */
export const clickHouseEngine: 'chdb' | 'server' | 'cluster' =
  process.env.CLICKHOUSE_ENGINE === 'chdb' || process.env.CLICKHOUSE_ENGINE === 'cluster' ? process.env.CLICKHOUSE_ENGINE : 'server';

/**
 * A test's time limit on the engine under test: a cluster (three servers and ZooKeeper sharing
 * two cores with the other test files) takes about three times as long.
 */
export const limitFor = (ms: number): number => (clickHouseEngine === 'cluster' ? ms * 3 : ms);

/** The database a test DATABASE_URL names (clickhouse://…/DB or chdb:DIR?database=DB). */
export function databaseOf(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  return url.protocol === 'chdb:' ? url.searchParams.get('database') ?? 'funnelbeam' : url.pathname.slice(1);
}

function chdbInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('chdb');
    return true;
  } catch {
    return false;
  }
}

export const USER = 'funnelbeam';
export const PASSWORD = 'test-password';
const BINARIES = ['/usr/bin/clickhouse-server', '/usr/sbin/clickhouse-server'];
const START_TIMEOUT_MS = 30_000;

const SETPRIV = '/usr/bin/setpriv';

/**
 * Spawns a server that dies with the test process that started it, even on a kill -9 of that
 * process (a worker ended at a timeout): `setpriv --pdeathsig KILL` (util-linux), which then
 * becomes the server (same pid). Without it, servers and ZooKeepers were left running.
 */
export function spawnTied(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  return fs.existsSync(SETPRIV)
    ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args], options)
    : spawn(command, [...args], options);
}

/** The server binary (CLICKHOUSE_SERVER overrides), or null when it is not installed. */
export function clickHouseServerBinary(): string | null {
  const candidates = process.env.CLICKHOUSE_SERVER ? [process.env.CLICKHOUSE_SERVER] : BINARIES;
  return candidates.find((file) => fs.existsSync(file)) ?? null;
}

/** Whether ClickHouse tests may be skipped here: only outside CI, where a missing server is a failure. */
export function canSkipClickHouse(): boolean {
  if (process.env.CI) return false;
  if (clickHouseEngine === 'cluster') return clickHouseServerBinary() === null || !fs.existsSync('/usr/share/java/zookeeper.jar');
  return clickHouseEngine === 'chdb' ? !chdbInstalled() : clickHouseServerBinary() === null;
}

/** chDB on a temp directory of this process (the one it may have: chDB runs one per process). */
async function startChdb(): Promise<RunningClickHouse> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-chdb-'));
  const { Session, drainPending } = await import('chdb');
  const session = new Session(dir, { connectionArgs: ['--output_format_json_quote_64bit_integers=1'] });
  const databaseUrlFor = (database: string) => `chdb:${dir}?database=${database}`;
  return {
    url: '',
    databaseUrl: databaseUrlFor('funnelbeam'),
    databaseUrlFor,
    command: async (query) => void (await session.queryAsync(query)),
    rows: async (query) => (await session.queryAsync(query, { format: 'JSONEachRow' })).text().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>),
    insert: async (database, table, rows) => void (await session.insert({
      table: `${database}.${table}`, format: 'JSONEachRow', values: Buffer.from(rows.map((row) => JSON.stringify(row)).join('\n') + '\n'),
    })),
    stop: async () => {
      session.close();
      await drainPending();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A server's config.xml; `extra` adds elements (a cluster's ZooKeeper, macros, remote_servers). */
export function configXml(dir: string, httpPort: number, tcpPort: number, extra = ''): string {
  // <yandex> is the root 18.16 knows; current releases still accept it.
  return `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>${dir}/log/server.log</log>
    <errorlog>${dir}/log/error.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>16777216</mark_cache_size>
  <uncompressed_cache_size>16777216</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>${extra}
</yandex>
`;
}

/** users.xml: `default` (no password) and the store's user, both from 127.0.0.1 only; `profile` adds settings. */
export function usersXml(profile = '', maxMemoryUsage = 2_000_000_000): string {
  const user = (name: string, password: string) => `
    <${name}>
      <password>${password}</password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </${name}>`;
  return `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>${maxMemoryUsage}</max_memory_usage>${profile}</default></profiles>
  <users>${user('default', '')}${user(USER, PASSWORD)}
  </users>
  <quotas><default><interval>
    <duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
  </interval></default></quotas>
</yandex>
`;
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function waitForPing(url: string, child: ChildProcess, logs: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`clickhouse-server exited (${child.exitCode ?? child.signalCode}) before answering:\n${logs()}`);
    }
    try {
      const reply = await fetch(`${url}/ping`);
      if ((await reply.text()).trim() === 'Ok.') return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`clickhouse-server did not answer ${url}/ping within ${START_TIMEOUT_MS} ms:\n${logs()}`);
}

/**
 * The cluster as one ClickHouse: the store's URLs name the cluster, and a test's
 * `OPTIMIZE TABLE db.t FINAL` merges the replicated table under the Distributed one on every
 * server (18.16 runs no OPTIMIZE ON CLUSTER), then waits for the replicas to have the result.
 */
async function startCluster(): Promise<RunningClickHouse> {
  const { attachClickHouseCluster, startClickHouseCluster } = await import('./clickhouseCluster.js');
  // The cluster project's shared cluster (clusterGlobalSetup.ts), else one of this file's own.
  const { inject } = await import('vitest');
  const shared = inject('clickhouseCluster');
  const cluster = shared ? attachClickHouseCluster(shared) : await startClickHouseCluster();
  const command = async (query: string) => {
    const optimize = /^OPTIMIZE TABLE (\w+)\.(\w+) FINAL$/.exec(query.trim());
    if (!optimize) return cluster.command(query);
    const local = `${optimize[1]}.${optimize[2]}_local`;
    // On each shard's leader, a partition at a time, those with parts to merge: 18.16 fails an
    // OPTIMIZE forwarded from another replica, and one over a partition holding a single part.
    for (const server of cluster.servers) {
      const [replica] = await cluster.rows(`SELECT is_leader FROM system.replicas WHERE database = '${optimize[1]}' AND table = '${optimize[2]}_local'`, server);
      if (Number(replica?.is_leader) !== 1) continue;
      const partitions = await cluster.rows(`SELECT partition_id FROM system.parts
        WHERE database = '${optimize[1]}' AND table = '${optimize[2]}_local' AND active GROUP BY partition_id HAVING count() > 1`, server);
      for (const { partition_id } of partitions) await cluster.command(`OPTIMIZE TABLE ${local} PARTITION ID '${String(partition_id)}' FINAL`, server);
    }
    for (const server of cluster.servers) await cluster.command(`SYSTEM SYNC REPLICA ${local}`, server);
  };
  return {
    url: cluster.servers[cluster.servers.length - 1].url,
    databaseUrl: cluster.databaseUrlFor('funnelbeam'),
    databaseUrlFor: (database) => cluster.databaseUrlFor(database),
    command,
    rows: (query) => cluster.rows(query),
    insert: (database, table, values) => cluster.insert(`${database}.${table}`, values),
    stop: () => cluster.stop(),
  };
}

/** `maxMemoryUsage`: the bytes a query may use (one clickhouse-server only; 2 GB unless given). */
export async function startClickHouse(options: { maxMemoryUsage?: number } = {}): Promise<RunningClickHouse> {
  if (clickHouseEngine === 'chdb') return startChdb();
  if (clickHouseEngine === 'cluster') return startCluster();
  const binary = clickHouseServerBinary();
  if (!binary) {
    throw new Error(
      'clickhouse-server is not installed: run `apt-get install clickhouse-server` ' +
      '(or set CLICKHOUSE_SERVER to its path); the ClickHouse store tests need it.',
    );
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-clickhouse-'));
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log']) fs.mkdirSync(path.join(dir, sub));
  const [httpPort, tcpPort] = [await freePort(), await freePort()];
  fs.writeFileSync(path.join(dir, 'config.xml'), configXml(dir, httpPort, tcpPort));
  fs.writeFileSync(path.join(dir, 'users.xml'), usersXml('', options.maxMemoryUsage));

  let stderr = '';
  const child = spawnTied(binary, [`--config-file=${path.join(dir, 'config.xml')}`], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000); });
  // A crashed test worker must not leave a server behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const logs = () => {
    const errorLog = path.join(dir, 'log', 'error.log');
    const tail = fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8').slice(-4000) : '';
    return `${stderr}\n${tail}`.trim();
  };
  const url = `http://127.0.0.1:${httpPort}`;
  const databaseUrlFor = (database: string) => `clickhouse://${USER}:${PASSWORD}@127.0.0.1:${httpPort}/${database}`;

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited(child);
    clearTimeout(timer);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitForPing(url, child, logs);
  } catch (error) {
    await stop();
    throw error;
  }
  const admin = () => createClient({ url, username: 'default', password: '' });
  const command = async (query: string) => {
    const client = admin();
    try {
      await client.command({ query });
    } finally {
      await client.close();
    }
  };
  const rows = async (query: string) => {
    const client = admin();
    try {
      return await (await client.query({ query, format: 'JSONEachRow' })).json<Record<string, unknown>>();
    } finally {
      await client.close();
    }
  };
  const insert = async (database: string, table: string, values: Record<string, unknown>[]) => {
    const client = admin();
    try {
      await client.insert({ table: `${database}.${table}`, values, format: 'JSONEachRow' });
    } finally {
      await client.close();
    }
  };
  return { url, databaseUrl: databaseUrlFor('funnelbeam'), databaseUrlFor, command, rows, insert, stop, pid: child.pid };
}
