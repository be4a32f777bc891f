// The ClickHouse store on a cluster (CLICKHOUSE_CLUSTER=NAME, or ?cluster=NAME in DATABASE_URL).
//
// Every table of MIGRATIONS becomes two, created ON CLUSTER: `NAME_local`, the same engine
// replicated (ReplacingMergeTree → ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/DB/NAME_local',
// '{replica}', version)), and `NAME`, a Distributed table over it, which is what the store's
// queries read and write, unchanged. The form is derived from each single-server statement
// (`ClusterSchema.statements`), so a table added to MIGRATIONS gets it without more work.
//
// Where rows go:
// - events (and their arrivals) are spread over the shards by visitor. A funnel's unit is the
//   visitor, or the lead it is linked to once it names one (funnel/identity.ts); a link is made
//   after the visitor's first events are stored, so the lead cannot place them, and the visitor
//   is the only part of the unit known when an event is written. Copies of a retried event
//   share a visitor, so a shard, unless their cookieless key changed between them (a new day or
//   address); reads group copies over all shards anyway.
// - every other table lives whole on the first shard (sharding key 0): FINAL, argMax over
//   versions and the settle-and-read-back races of the store read all of a key's rows in one
//   place, exactly as on one server. List a large table in SHARDED_TABLES to spread it.
// Reads over a Distributed table merge the shards' partial aggregates, so counts, uniqExact,
// argMin and GROUP BY stay exact across shards; FINAL does not, which is why the tables read
// with FINAL are not spread.
//
// A collector reads what it wrote at once: the server it talks to writes a shard it holds a
// replica of locally and reads it locally too (18.16 inserts into a local replica whatever
// prefer_localhost_replica says, so it stays on for reads), and goes to the first live replica in remote_servers order
// for the other shards, for writes and reads alike (load_balancing = in_order). Collectors on
// different replicas of a shard see each other's rows once replication has copied them
// (milliseconds; the lease and the settle-and-read-back races wait 250 ms). An insert is
// acknowledged once the shard's replica has written it (insert_distributed_sync = 1); the
// other replica fetches it. A replica killed before that keeps the part on its disk and serves
// it again when it is back.
import type { ClickHouseSettings } from '@clickhouse/client';
import { databaseName, str } from './sql.js';
import type { SqlConnection } from './connection.js';

/** Tables spread over the shards, with the expression that picks a row's shard. */
export const SHARDED_TABLES: Readonly<Record<string, string>> = {
  events: 'sipHash64(visitor)',
  // Filled on each shard from its own events (event_arrivals_view); the key only places direct inserts.
  event_arrivals: 'sipHash64(dedupe_key)',
};

/** Session settings of a collector on a cluster (see the header). */
export const CLUSTER_SETTINGS: ClickHouseSettings = {
  insert_distributed_sync: 1,
  // Replicated tables drop a block identical to a recent one; here two equal rows are two facts
  // (a bot counted twice, an audit entry repeated), and retried events are told apart on reads.
  insert_deduplicate: 0,
  load_balancing: 'in_order',
  // A replica must answer within this to be used (default 50 ms): a busy server is slow, not down.
  connect_timeout_with_failover_ms: 1000,
};

/**
 * How long a collector on a cluster waits for a command: an ON CLUSTER statement answers once
 * every server has run it, which on a busy cluster took over the client's 30 s; the servers give
 * up at distributed_ddl_task_timeout (180 s by default) and answer with an error.
 */
export const CLUSTER_COMMAND_TIMEOUT_MS = 200_000;

/** The suffix of the replicated table under each Distributed one. */
const LOCAL = '_local';

const CREATE_TABLE = /^\s*CREATE TABLE IF NOT EXISTS (\w+) \(([\s\S]*)\)\s*ENGINE = (\w*)MergeTree\(([^)]*)\)([\s\S]*)$/;
const CREATE_VIEW = /^\s*CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+)\s+AS SELECT ([\s\S]*?) FROM (\w+)([\s\S]*)$/;
const ALTER = /^\s*ALTER TABLE (\w+)\s+([\s\S]*)$/;
const COLUMN_CHANGE = /^(ADD|DROP|MODIFY|RENAME|COMMENT) COLUMN\b/i;

export class ClusterSchema {
  constructor(readonly cluster: string, readonly database: string) {
    databaseName(cluster);
    databaseName(database);
  }

  private local(table: string): string {
    return `${this.database}.${table}${LOCAL}`;
  }

  private distributed(table: string): string {
    return `CREATE TABLE IF NOT EXISTS ${this.database}.${table} ON CLUSTER ${this.cluster} AS ${this.local(table)}
      ENGINE = Distributed(${this.cluster}, ${this.database}, ${table}${LOCAL}, ${SHARDED_TABLES[table] ?? '0'})`;
  }

  /** Run at every start, before the migrations: idempotent. */
  setup(): string[] {
    return [
      `CREATE DATABASE IF NOT EXISTS ${this.database} ON CLUSTER ${this.cluster}`,
      // One replica per shard's view of its mutations: `mutate` waits on the ones that serve reads.
      `CREATE TABLE IF NOT EXISTS ${this.database}.cluster_mutations ON CLUSTER ${this.cluster} AS system.mutations
        ENGINE = Distributed(${this.cluster}, system, mutations)`,
    ];
  }

  /** The cluster form of one single-server statement of MIGRATIONS (or MIGRATIONS_TABLE). */
  statements(statement: string): string[] {
    const table = CREATE_TABLE.exec(statement);
    if (table) {
      const [, name, columns, engine, args, rest] = table;
      const replication = `'/clickhouse/tables/{shard}/${this.database}/${name}${LOCAL}', '{replica}'`;
      return [
        `CREATE TABLE IF NOT EXISTS ${this.local(name)} ON CLUSTER ${this.cluster} (${columns})
          ENGINE = Replicated${engine}MergeTree(${replication}${args.trim() ? `, ${args}` : ''})${rest}`,
        this.distributed(name),
      ];
    }
    const view = CREATE_VIEW.exec(statement);
    if (view) {
      // Each shard's inserts feed its own view; a spread target is filled on the same shard.
      const [, name, target, columns, source, rest] = view;
      const into = target in SHARDED_TABLES ? this.local(target) : `${this.database}.${target}`;
      return [`CREATE MATERIALIZED VIEW IF NOT EXISTS ${this.database}.${name} ON CLUSTER ${this.cluster} TO ${into}
        AS SELECT ${columns} FROM ${this.local(source)}${rest}`];
    }
    const alter = ALTER.exec(statement);
    if (alter) {
      const [, name, change] = alter;
      const statements = [`ALTER TABLE ${this.local(name)} ON CLUSTER ${this.cluster} ${change}`];
      // 18.16 runs an ALTER ON CLUSTER once per shard, and refuses it on a Distributed table of a
      // replicated cluster: its columns are taken again from the local table by re-creating it.
      if (COLUMN_CHANGE.test(change)) {
        statements.push(`DROP TABLE IF EXISTS ${this.database}.${name} ON CLUSTER ${this.cluster}`, this.distributed(name));
      }
      return statements;
    }
    // Through the Distributed tables, as on one server.
    if (/^\s*INSERT INTO \w+/.test(statement)) return [statement];
    throw new Error(`no cluster form for this migration statement (cluster.ts): ${statement.slice(0, 80)}`);
  }

  /**
   * Runs one step of MIGRATIONS in its cluster form. An ON CLUSTER statement mostly waits for
   * the servers to report back, so the tables a step creates one after another are created
   * together: their replicated tables at once, then the Distributed ones over them.
   */
  async apply(step: readonly string[], run: (statement: string) => Promise<void>): Promise<void> {
    for (let i = 0; i < step.length;) {
      let end = i;
      while (end < step.length && CREATE_TABLE.test(step[end])) end++;
      if (end === i) {
        for (const statement of this.statements(step[i++])) await run(statement);
        continue;
      }
      const forms = step.slice(i, end).map((statement) => this.statements(statement));
      await Promise.all(forms.map(([local]) => run(local)));
      await Promise.all(forms.map(([, distributed]) => run(distributed)));
      i = end;
    }
  }

  /** An ALTER ... DELETE (or DROP PARTITION) of the store, run on every shard's local table. */
  mutation(query: string): string {
    const alter = ALTER.exec(query);
    if (!alter) throw new Error(`not an ALTER TABLE: ${query.slice(0, 80)}`);
    return `ALTER TABLE ${this.local(alter[1])} ON CLUSTER ${this.cluster} ${alter[2]}`;
  }

  /**
   * For an ALTER ... DELETE, how many rows it would delete (through the Distributed table): a
   * replicated mutation that deletes nothing is skipped, since 18.16 has crashed finalizing
   * mutations on replicated tables (README, On a cluster), and each one costs every shard.
   */
  matching(query: string): string | null {
    const remove = /^\s*ALTER TABLE (\w+)\s+DELETE\s+WHERE\s+([\s\S]*)$/.exec(query);
    return remove ? `SELECT count() AS n FROM ${this.database}.${remove[1]} WHERE ${remove[2]}` : null;
  }

  /** Mutations of `table` still running on the replicas that serve reads. */
  pendingMutations(table: string): string {
    return `SELECT count() AS n FROM ${this.database}.cluster_mutations
      WHERE database = ${str(this.database)} AND table = ${str(`${table}${LOCAL}`)} AND is_done = 0`;
  }
}

/**
 * A read or write that failed because storage is out of reach (a server, a whole shard, or
 * ZooKeeper down): the collector answers 503 with Retry-After, never a partial result.
 */
export class StorageUnavailableError extends Error {
  readonly statusCode = 503;
  constructor(cause: unknown) {
    super(`storage is unavailable: ${String(cause instanceof Error ? cause.message : cause).split('\n')[0]}`, { cause });
  }
}

/**
 * ClickHouse error codes of unavailability: 209 SOCKET_TIMEOUT, 210 NETWORK_ERROR, 225 NO_ZOOKEEPER,
 * 242 TABLE_IS_READ_ONLY (a replica without ZooKeeper), 279 ALL_CONNECTION_TRIES_FAILED (every
 * replica of a shard down), 319 UNKNOWN_STATUS_OF_INSERT, 999 KEEPER_EXCEPTION.
 */
const UNAVAILABLE_CODES = new Set(['209', '210', '225', '242', '279', '319', '999']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'UND_ERR_SOCKET']);

export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = String((error as { code?: unknown }).code ?? '');
  if (UNAVAILABLE_CODES.has(code) || NETWORK_CODES.has(code)) return true;
  return /socket hang up|Timeout error|Code: (209|210|225|242|279|319|999)\b/.test(error.message);
}

const unavailable = (error: unknown) => (isUnavailable(error) ? new StorageUnavailableError(error) : error);

/** The connection, its unavailability errors turned into StorageUnavailableError. */
export function reportingUnavailability(sql: SqlConnection): SqlConnection {
  return {
    ...sql,
    rows: (query) => sql.rows(query).catch((error: unknown) => { throw unavailable(error); }),
    async *stream(query) {
      try {
        yield* sql.stream(query);
      } catch (error) {
        throw unavailable(error);
      }
    },
    command: (query) => sql.command(query).catch((error: unknown) => { throw unavailable(error); }),
    insert: (table, values, settings) => sql.insert(table, values, settings).catch((error: unknown) => { throw unavailable(error); }),
  };
}
