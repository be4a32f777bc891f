// Starts a throwaway ClickHouse server for tests: Debian's clickhouse-server, its data and
// logs in a temp dir, listening on 127.0.0.1 only, on free ports. One server per test file.
import { spawn, type ChildProcess } from 'node:child_process';
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
  stop(): Promise<void>;
}

const USER = 'funnelbeam';
const PASSWORD = 'test-password';
const BINARIES = ['/usr/bin/clickhouse-server', '/usr/sbin/clickhouse-server'];
const START_TIMEOUT_MS = 30_000;

/** The server binary (CLICKHOUSE_SERVER overrides), or null when it is not installed. */
export function clickHouseServerBinary(): string | null {
  const candidates = process.env.CLICKHOUSE_SERVER ? [process.env.CLICKHOUSE_SERVER] : BINARIES;
  return candidates.find((file) => fs.existsSync(file)) ?? null;
}

/** Whether ClickHouse tests may be skipped here: only outside CI, where a missing server is a failure. */
export function canSkipClickHouse(): boolean {
  return !process.env.CI && clickHouseServerBinary() === null;
}

function freePort(): Promise<number> {
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

function configXml(dir: string, httpPort: number, tcpPort: number): string {
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
  <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
`;
}

function usersXml(): string {
  const user = (name: string, password: string) => `
    <${name}>
      <password>${password}</password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </${name}>`;
  return `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users>${user('default', '')}${user(USER, PASSWORD)}
  </users>
  <quotas><default><interval>
    <duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
  </interval></default></quotas>
</yandex>
`;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function waitForPing(url: string, child: ChildProcess, logs: () => string): Promise<void> {
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

export async function startClickHouse(): Promise<RunningClickHouse> {
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
  fs.writeFileSync(path.join(dir, 'users.xml'), usersXml());

  let stderr = '';
  const child = spawn(binary, [`--config-file=${path.join(dir, 'config.xml')}`], {
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
  return { url, databaseUrl: databaseUrlFor('funnelbeam'), databaseUrlFor, stop };
}
