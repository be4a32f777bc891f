// A real ClickHouse cluster on loopback for tests: one ZooKeeper (Debian's `zookeeper`, run
// standalone) and three of Debian's clickhouse-server 18.16, two shards, the first with two
// replicas. Each process has its own temp directory and free ports, on 127.0.0.1 only. A test
// can kill -9 one server and start it again on the same data, as a crash and a restart would.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createClient } from '@clickhouse/client';
import { CLUSTER_SETTINGS } from '../ingest/src/store/clickhouse/cluster.js';
import {
  PASSWORD, USER, clickHouseServerBinary, configXml, exited, freePort, spawnTied, usersXml, waitForPing,
} from './clickhouse.js';

/** The cluster's name in remote_servers (what CLICKHOUSE_CLUSTER names). */
export const CLUSTER_NAME = 'funnelbeam';

const ZOOKEEPER_JARS = ['/usr/share/java/zookeeper.jar'];
const START_TIMEOUT_MS = 30_000;
/**
 * ZooKeeper forgets a killed server's session after this; until then its replicas cannot come
 * back as active (their old ephemeral node stands), so tests keep it short.
 */
const ZOOKEEPER_SESSION_MS = 4_000;

export interface ClusterServer {
  /** The `{replica}` macro: unique across the cluster. */
  name: string;
  /** 1-based, as the `{shard}` macro and remote_servers order them. */
  shard: number;
  httpPort: number;
  tcpPort: number;
  url: string;
  /** Whether its process runs. */
  readonly running: boolean;
  pid(): number | undefined;
}

export interface RunningCluster {
  name: string;
  servers: readonly ClusterServer[];
  /** DATABASE_URL of `database` through `server` (default: the last, the second shard's only replica). */
  databaseUrlFor(database: string, server?: ClusterServer): string;
  command(query: string, server?: ClusterServer): Promise<void>;
  rows(query: string, server?: ClusterServer): Promise<Record<string, unknown>[]>;
  insert(table: string, values: Record<string, unknown>[], server?: ClusterServer): Promise<void>;
  /** kill -9 of one server. */
  kill(server: ClusterServer): Promise<void>;
  /** Starts a killed (or stopped) server again on its own data. */
  restart(server: ClusterServer): Promise<void>;
  stop(): Promise<void>;
}

/** Where a running cluster's servers listen: enough for another process to use it (attachClickHouseCluster). */
export type ClusterServerAddress = Pick<ClusterServer, 'name' | 'shard' | 'httpPort' | 'tcpPort' | 'url'>;

declare module 'vitest' {
  export interface ProvidedContext {
    /** The cluster test project's shared cluster (clusterGlobalSetup.ts); null where it cannot run here. */
    clickhouseCluster: ClusterServerAddress[] | null;
  }
}

/** A cluster's SQL and URLs, from its servers' addresses. */
function clusterClient(servers: readonly ClusterServer[]): Pick<RunningCluster, 'name' | 'servers' | 'databaseUrlFor' | 'command' | 'rows' | 'insert'> {
  const entry = servers[servers.length - 1];
  // The store's own session settings: a test reads and writes the replicas the store does.
  const admin = (server: ClusterServer) => createClient({ url: server.url, username: 'default', password: '', clickhouse_settings: CLUSTER_SETTINGS });
  return {
    name: CLUSTER_NAME,
    servers,
    databaseUrlFor: (database, server = entry) =>
      `clickhouse://${USER}:${PASSWORD}@127.0.0.1:${server.httpPort}/${database}?cluster=${CLUSTER_NAME}`,
    async command(query, server = entry) {
      const client = admin(server);
      try {
        await client.command({ query });
      } finally {
        await client.close();
      }
    },
    async rows(query, server = entry) {
      const client = admin(server);
      try {
        return await (await client.query({ query, format: 'JSONEachRow' })).json<Record<string, unknown>>();
      } finally {
        await client.close();
      }
    },
    async insert(table, values, server = entry) {
      const client = admin(server);
      try {
        await client.insert({ table, values, format: 'JSONEachRow' });
      } finally {
        await client.close();
      }
    },
  };
}

/**
 * A cluster another process started (the cluster test project's global set-up, shared by its
 * files): its servers are used, never killed or stopped from here.
 */
export function attachClickHouseCluster(addresses: readonly ClusterServerAddress[]): RunningCluster {
  const servers = addresses.map((address) => ({ ...address, running: true, pid: () => undefined }));
  const notOurs = async () => { throw new Error('a shared test cluster is not killed or restarted by one test file: start one of its own'); };
  return { ...clusterClient(servers), kill: notOurs, restart: notOurs, stop: async () => undefined };
}

export function zookeeperJar(): string | null {
  return ZOOKEEPER_JARS.find((file) => fs.existsSync(file)) ?? null;
}

/** Whether this machine can run the cluster: both clickhouse-server and zookeeper installed. */
export function canRunCluster(): boolean {
  return clickHouseServerBinary() !== null && zookeeperJar() !== null;
}

async function waitForZooKeeper(port: number, child: ChildProcess, logs: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`zookeeper exited before answering:\n${logs()}`);
    // `srvr` answers with the version once sessions are served (`ruok` says `imok` before).
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.end('srvr'));
      let text = '';
      socket.on('data', (chunk) => { text += chunk.toString(); });
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(''));
    });
    if (answer.startsWith('Zookeeper version')) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`zookeeper did not answer on port ${port} within ${START_TIMEOUT_MS} ms:\n${logs()}`);
}

function remoteServersXml(servers: readonly { shard: number; tcpPort: number }[]): string {
  const shards = [...new Set(servers.map((s) => s.shard))].map((shard) => `
      <shard>
        <internal_replication>true</internal_replication>${servers.filter((s) => s.shard === shard).map((s) => `
        <replica><host>127.0.0.1</host><port>${s.tcpPort}</port></replica>`).join('')}
      </shard>`).join('');
  return `<remote_servers><${CLUSTER_NAME}>${shards}
    </${CLUSTER_NAME}></remote_servers>`;
}

/** Starts ZooKeeper and the three servers; `layout` is the shard of each server, in order. */
export async function startClickHouseCluster(layout: readonly number[] = [1, 1, 2]): Promise<RunningCluster> {
  // A free port is free when asked for, not when the server binds it: another test's server may
  // take it in between. Such a start is made again on other ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(layout);
    } catch (error) {
      if (attempt === 3 || !/Address already in use/.test(String(error))) throw error;
    }
  }
}

async function startOnce(layout: readonly number[]): Promise<RunningCluster> {
  const binary = clickHouseServerBinary();
  const jar = zookeeperJar();
  if (!binary || !jar) {
    throw new Error('the ClickHouse cluster tests need clickhouse-server and zookeeper: apt-get install clickhouse-server zookeeper');
  }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-cluster-'));
  const children = new Set<ChildProcess>();
  // A crashed test worker must not leave processes behind.
  const killAll = () => { for (const child of children) child.kill('SIGKILL'); };
  process.once('exit', killAll);

  const zkDir = path.join(root, 'zookeeper');
  fs.mkdirSync(path.join(zkDir, 'data'), { recursive: true });
  const zkPort = await freePort();
  fs.writeFileSync(path.join(zkDir, 'zoo.cfg'), [
    'tickTime=500', `dataDir=${zkDir}/data`, `clientPort=${zkPort}`, 'clientPortAddress=127.0.0.1', 'maxClientCnxns=0',
    'admin.enableServer=false', '4lw.commands.whitelist=srvr', 'minSessionTimeout=1000', 'maxSessionTimeout=10000', '',
  ].join('\n'));
  const zkLog = path.join(zkDir, 'zookeeper.log');
  const zkOutput = fs.openSync(zkLog, 'a');
  // Standalone and small: a test's cluster needs a few MB of heap; the serial GC spares the two cores.
  const zookeeper = spawnTied('java', ['-Xmx128m', '-XX:+UseSerialGC', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', `${jar}:/usr/share/java/slf4j-simple.jar`,
    'org.apache.zookeeper.server.ZooKeeperServerMain', path.join(zkDir, 'zoo.cfg')], { cwd: zkDir, stdio: ['ignore', zkOutput, zkOutput] });
  fs.closeSync(zkOutput);
  children.add(zookeeper);

  const specs: { name: string; shard: number; httpPort: number; tcpPort: number; interserverPort: number }[] = [];
  for (const [i, shard] of layout.entries()) {
    specs.push({ name: `s${shard}r${layout.slice(0, i).filter((s) => s === shard).length + 1}`, shard,
      httpPort: await freePort(), tcpPort: await freePort(), interserverPort: await freePort() });
  }

  interface ServerState extends ClusterServer { child: ChildProcess | null; dir: string; stderr: string; killed: boolean }
  const servers: ServerState[] = specs.map((spec) => {
    const dir = path.join(root, spec.name);
    for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
    const extra = `
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <interserver_http_port>${spec.interserverPort}</interserver_http_port>
  <zookeeper>
    <node><host>127.0.0.1</host><port>${zkPort}</port></node>
    <session_timeout_ms>${ZOOKEEPER_SESSION_MS}</session_timeout_ms>
  </zookeeper>
  <macros><shard>${String(spec.shard).padStart(2, '0')}</shard><replica>${spec.name}</replica></macros>
  ${remoteServersXml(specs)}
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>`;
    fs.writeFileSync(path.join(dir, 'config.xml'), configXml(dir, spec.httpPort, spec.tcpPort, extra));
    // The store's load balancing and failover timeout also in the default profile, as the
    // README asks, for connections a server makes without the query's settings; a busy server
    // (three of them on two cores) is slow, not down. Fewer background threads than 16, too.
    fs.writeFileSync(path.join(dir, 'users.xml'), usersXml(`<load_balancing>in_order</load_balancing><connect_timeout_with_failover_ms>1000</connect_timeout_with_failover_ms>
      <background_pool_size>4</background_pool_size><background_schedule_pool_size>4</background_schedule_pool_size>`));
    const state: ServerState = {
      ...spec, url: `http://127.0.0.1:${spec.httpPort}`, child: null, dir, stderr: '', killed: false,
      get running() { return state.child !== null && state.child.exitCode === null && state.child.signalCode === null; },
      pid: () => state.child?.pid,
    };
    return state;
  });

  const logs = (server: ServerState) => () => {
    const errorLog = path.join(server.dir, 'log', 'error.log');
    const tail = fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8').slice(-4000) : '';
    return `${server.stderr}\n${tail}`.trim();
  };
  let stopping = false;
  const launch = async (server: ServerState) => {
    const child = spawnTied(binary, [`--config-file=${path.join(server.dir, 'config.xml')}`], { cwd: server.dir, stdio: ['ignore', 'ignore', 'pipe'] });
    children.add(child);
    server.killed = false;
    child.once('exit', (code, signal) => {
      children.delete(child);
      // A server that dies unasked is the cause of whatever fails next: say why, before its logs go.
      if (!server.killed && !stopping) console.error(`clickhouse-server ${server.name} exited (${code ?? signal}):\n${logs(server)().slice(-2000)}`);
    });
    child.stderr?.on('data', (chunk: Buffer) => { server.stderr = (server.stderr + chunk.toString()).slice(-4000); });
    server.child = child;
    await waitForPing(server.url, child, logs(server));
  };

  const terminate = async (child: ChildProcess) => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited(child);
    clearTimeout(timer);
  };
  const stop = async () => {
    stopping = true;
    // The servers first: without ZooKeeper their shutdown waits on it.
    await Promise.all([...children].filter((child) => child !== zookeeper).map(terminate));
    await terminate(zookeeper);
    process.removeListener('exit', killAll);
    fs.rmSync(root, { recursive: true, force: true });
  };

  try {
    await waitForZooKeeper(zkPort, zookeeper, () => fs.readFileSync(zkLog, 'utf8').slice(-4000));
    await Promise.all(servers.map(launch));
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    ...clusterClient(servers),
    async kill(server) {
      const state = server as ServerState;
      if (!state.child) return;
      state.killed = true;
      state.child.kill('SIGKILL');
      await exited(state.child);
    },
    async restart(server) {
      await launch(server as ServerState);
    },
    stop,
  };
}
