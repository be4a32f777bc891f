// Every SQL statement of the ClickHouse store, in one place.
//
// The SQL runs on Debian's ClickHouse 18.16 as on current releases, so it keeps to what 18.16
// knows: no query parameters ({name:Type} arrives in 19.x, so values are inlined through
// `str`/`int` below), no WITH subqueries, no JSONExtract, no LowCardinality, no DateTime64
// (times are Int64 epoch ms), no column DEFAULTs filled in on insert (every row is sent whole).
import type { TimeRange } from '../types.js';

/** A ClickHouse string literal: backslash and quote escaped, the only two that end or bend one. */
export function str(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** An integer literal; anything else is a bug in the caller, never inlined. */
export function int(value: number): string {
  if (!Number.isSafeInteger(value)) throw new TypeError(`not an integer: ${value}`);
  return String(value);
}

/** A 'YYYY-MM-DD' day as a Date literal. */
export function day(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new TypeError(`not a day: ${value}`);
  return `toDate('${value}')`;
}

/** A database name, which is inlined unquoted into CREATE DATABASE. */
export function databaseName(value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(value)) {
    throw new TypeError(`the ClickHouse database name must be letters, digits and _, got "${value}"`);
  }
  return value;
}

/**
 * How long after its first copy a retried event can arrive. Copies of one event may carry
 * different times (the server clamps each arrival's client time on its own), and the first
 * copy is the one that counts, as on SQLite; so reads look this far before the range for
 * earlier copies. The snippet retries within this; it is also MAX_CLIENT_AGE_MS.
 */
export const RETRY_WINDOW_MS = 3 * 86_400_000;

/** Creation versions of a site count down from here (the first creation wins a race)... */
const SITE_CREATION_BASE = 10_000_000_000_000;
/** ...and updates count up from here, so any update outranks every creation. */
const SITE_UPDATE_BASE = 20_000_000_000_000;

export function siteCreationVersion(createdAt: number): number {
  return SITE_CREATION_BASE - createdAt;
}

export function siteUpdateVersion(now: number): number {
  return SITE_UPDATE_BASE + now;
}

export const createDatabase = (name: string) => `CREATE DATABASE IF NOT EXISTS ${databaseName(name)}`;

export const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32,
    applied_at Int64
  ) ENGINE = MergeTree() ORDER BY version`;

export const appliedMigration = `SELECT max(version) AS version FROM schema_migrations`;
export const recordMigration = (version: number) =>
  `INSERT INTO schema_migrations (version, applied_at) VALUES (${int(version)}, ${int(Date.now())})`;

/**
 * Schema migrations, applied in order; schema_migrations records how far. Collectors sharing
 * a database may start together, so every statement is idempotent (IF NOT EXISTS).
 *
 * events: a ReplacingMergeTree sorted by site, then time, which is what every report reads (one
 * site, a time range), partitioned by month of the event time. The rest of its key makes an
 * event unique: client_ts and dedupe_key ('i' + client id, or 'u' + a server uuid when the
 * client sent no id, so those are never duplicates). Copies of a retried event with the same
 * time collapse when parts merge; until then, and for copies with different times, reads group
 * by (client_ts, dedupe_key) and keep the first copy (`dedupedEvents`).
 *
 * props is the JSON of the properties, kept whole; prop_keys/prop_values hold the same as
 * strings, which is how funnel steps compare them, queryable without JSON functions.
 */
export const MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE IF NOT EXISTS events (
      site String,
      ts Int64,
      client_ts Int64,
      dedupe_key String,
      id Nullable(String),
      name String,
      visitor String,
      session String,
      lead Nullable(String),
      url String,
      path String,
      landing String,
      referrer Nullable(String),
      channel String,
      source Nullable(String),
      medium Nullable(String),
      campaign Nullable(String),
      term Nullable(String),
      content Nullable(String),
      browser Nullable(String),
      os Nullable(String),
      device Nullable(String),
      props Nullable(String),
      prop_keys Array(String),
      prop_values Array(String),
      revenue_amount Nullable(Float64),
      revenue_currency Nullable(String),
      engaged_ms Nullable(Int64),
      scroll Nullable(Int64),
      variant Nullable(String)
    ) ENGINE = ReplacingMergeTree()
    PARTITION BY toYYYYMM(toDateTime(intDiv(ts, 1000), 'UTC'))
    ORDER BY (site, ts, client_ts, dedupe_key)`,

    // Bots dropped per site and UTC day; parts add up as they merge, reads sum.
    `CREATE TABLE IF NOT EXISTS bot_counts (
      site String,
      day Date,
      count UInt64
    ) ENGINE = SummingMergeTree(count)
    PARTITION BY toYYYYMM(day)
    ORDER BY (site, day)`,

    // One row per creation or update; the highest version holds (see siteCreationVersion).
    `CREATE TABLE IF NOT EXISTS sites (
      domain String,
      origins String,
      allowed_params String,
      created_at Int64,
      version UInt64,
      writer String
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY domain`,

    // Salts and settings are written once; collectors that race both insert, and every reader
    // takes the smallest value, so all agree. Rows are never replaced, so plain MergeTree.
    `CREATE TABLE IF NOT EXISTS salts (
      day Date,
      salt String
    ) ENGINE = MergeTree()
    ORDER BY (day, salt)`,

    `CREATE TABLE IF NOT EXISTS settings (
      key String,
      value String
    ) ENGINE = MergeTree()
    ORDER BY (key, value)`,

    // One row per save or delete (deleted = 1, a tombstone); the highest version holds.
    `CREATE TABLE IF NOT EXISTS funnels (
      site String,
      id String,
      definition String,
      created_at Int64,
      updated_at Int64,
      deleted UInt8,
      version UInt64
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY (site, id)`,
  ],
  [
    // Data retention per site (days; NULL keeps events for ever).
    `ALTER TABLE sites ADD COLUMN retention_days Nullable(UInt32)`,
  ],
  [
    // Arrival order (a collector's clock in µs, never repeating within it): funnels read a
    // unit's events in (ts, arrival) order, as SQLite reads them in (ts, rowid) order.
    `ALTER TABLE events ADD COLUMN arrival UInt64`,
  ],
  [
    // Leads are replayed from events and these logs (leads/replay.ts); `seq` is the arrival clock
    // of the collector that wrote the row, so events, moves and settings merge in one order.
    // A change of a site's scoring rules or webhook, as JSON ('null': removed; not a NULL,
    // which argMax would skip).
    `CREATE TABLE IF NOT EXISTS lead_settings (
      site String,
      field String,
      seq UInt64,
      value String
    ) ENGINE = MergeTree()
    ORDER BY (site, field, seq)`,

    // The sales side's stage moves, as asked; the replay decides which ones took effect.
    `CREATE TABLE IF NOT EXISTS lead_moves (
      site String,
      lead String,
      seq UInt64,
      id String,
      stage String,
      at Int64,
      amount Nullable(Float64),
      currency Nullable(String)
    ) ENGINE = MergeTree()
    ORDER BY (site, lead, seq)`,

    // What became of each webhook delivery (the deliveries themselves are derived): one row per
    // attempt, the latest (highest seq) holds. Written only by the collector holding the lease.
    `CREATE TABLE IF NOT EXISTS webhook_attempts (
      site String,
      lead String,
      id String,
      seq UInt64,
      status String,
      attempts UInt32,
      next_at Int64,
      error String
    ) ENGINE = MergeTree()
    ORDER BY (site, id, seq)`,

    // Who does a job that must run on one collector only (sending webhooks): per term, the first
    // claimant holds it while it keeps renewing; renewals replace one another.
    `CREATE TABLE IF NOT EXISTS leases (
      name String,
      term UInt64,
      holder String,
      claimed_at Int64,
      renewed_at Int64
    ) ENGINE = ReplacingMergeTree(renewed_at)
    ORDER BY (name, term, holder)`,
  ],
  [
    // What the materializer (the one collector holding its lease) computes and every collector
    // reads: per funnel and version (a hash of its definition), its state, the day aggregates of
    // its final entries, the live ones, and chain ends; where it has got to. One table, so that
    // what one step writes (entries made final, the threshold, the live days they left, the
    // progress) is one INSERT, which ClickHouse applies whole. The highest seq of a key holds.
    `CREATE TABLE IF NOT EXISTS materialized (
      site String,
      kind String,
      key String,
      value String,
      deleted UInt8,
      seq UInt64
    ) ENGINE = ReplacingMergeTree(seq)
    ORDER BY (site, kind, key)`,

    // The events in order of arrival (their keys only), for the materializer to find what is new
    // without reading a site's history; filled by the view below at every insert into events,
    // and kept a few days (partitions by day of arrival are dropped).
    `CREATE TABLE IF NOT EXISTS event_arrivals (
      site String,
      arrival UInt64,
      ts Int64,
      client_ts Int64,
      dedupe_key String
    ) ENGINE = MergeTree()
    PARTITION BY intDiv(arrival, 86400000000)
    ORDER BY arrival`,

    `CREATE MATERIALIZED VIEW IF NOT EXISTS event_arrivals_view TO event_arrivals
      AS SELECT site, arrival, ts, client_ts, dedupe_key FROM events`,

    // The events stored before the view existed (an upgrade): the first materializer starts from
    // the first arrival. A copy written twice (collectors migrating together) is taken once.
    `INSERT INTO event_arrivals SELECT site, arrival, ts, client_ts, dedupe_key FROM events`,

    // Erasures of people, in the log the materializer applies to the leads in order (the events
    // themselves are deleted at once by the collector that was asked).
    `CREATE TABLE IF NOT EXISTS lead_erasures (
      site String,
      seq UInt64,
      lead Nullable(String),
      visitors Array(String)
    ) ENGINE = MergeTree()
    ORDER BY (site, seq)`,
  ],
  [
    // Accounts (accounts/): users, sessions, API keys and shared links as JSON records (secrets
    // only as hashes). One row per write or delete (deleted = 1); the highest version holds.
    // expires_at 0: kept until deleted.
    `CREATE TABLE IF NOT EXISTS account_records (
      kind String,
      id String,
      body String,
      expires_at Int64,
      deleted UInt8,
      version UInt64
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY (kind, id)`,

    // Who changed what; '' for no site or target.
    `CREATE TABLE IF NOT EXISTS audit_log (
      at Int64,
      actor String,
      action String,
      site String,
      target String
    ) ENGINE = MergeTree()
    ORDER BY at`,
  ],
  [
    // Heatmaps (heatmaps/): per site, path, device class and day, each selector's clicks and the
    // pageviews that reached each 10% of the page (depth 0: the pageviews); parts add up as they
    // merge, reads sum. A heatmap reads as many rows as there are distinct elements.
    `CREATE TABLE IF NOT EXISTS heatmap_clicks (
      site String,
      path String,
      device String,
      day Date,
      selector String,
      count UInt64,
      sum_x Float64,
      sum_y Float64,
      rage UInt64
    ) ENGINE = SummingMergeTree()
    PARTITION BY toYYYYMM(day)
    ORDER BY (site, path, device, day, selector)`,

    `CREATE TABLE IF NOT EXISTS heatmap_scroll (
      site String,
      path String,
      device String,
      day Date,
      depth UInt8,
      views UInt64
    ) ENGINE = SummingMergeTree()
    PARTITION BY toYYYYMM(day)
    ORDER BY (site, path, device, day, depth)`,

    // Each heatmapped pageview's chunks (who, when, what), for the funnel split; erased with the
    // person, expired with the events. clicks: JSON of [selector, x, y, rage] arrays.
    `CREATE TABLE IF NOT EXISTS heatmap_views (
      site String,
      ts Int64,
      visitor String,
      lead Nullable(String),
      path String,
      device String,
      seen Nullable(Int64),
      scroll Nullable(Int64),
      clicks String
    ) ENGINE = MergeTree()
    PARTITION BY toYYYYMM(toDateTime(intDiv(ts, 1000), 'UTC'))
    ORDER BY (site, path, ts)`,
  ],
];

/** Columns of `events` that `dedupedEvents` can return, each taken from an event's first copy. */
export type EventColumn =
  | 'name' | 'visitor' | 'session' | 'lead' | 'url' | 'path' | 'landing' | 'referrer' | 'channel'
  | 'source' | 'medium' | 'campaign' | 'term' | 'content' | 'browser' | 'os' | 'device' | 'props'
  | 'prop_keys' | 'prop_values' | 'revenue_amount' | 'revenue_currency' | 'engaged_ms' | 'scroll'
  | 'variant' | 'id' | 'client_ts' | 'dedupe_key' | 'arrival';

/**
 * Each event of a site once (copies share (client_ts, dedupe_key)), with `ts` and the asked
 * columns of its first copy by `by`. Aliases differ from the columns inside: 18.16 would
 * otherwise read the aggregates into WHERE.
 */
function firstCopies(site: string, where: string, columns: readonly EventColumn[], by: 'ts' | 'arrival'): string {
  // Copies with one ts (a retry clamped alike) are told apart by arrival: otherwise which one a
  // read takes is up to the server, and may change from read to read.
  const order = by === 'ts' ? '(ts, arrival)' : 'arrival';
  const first = columns.map((c) => `, argMin(${c}, ${order}) AS first_${c}`).join('');
  const outer = columns.map((c) => `, first_${c} AS ${c}`).join('');
  return `SELECT first_ts AS ts${outer} FROM (
      SELECT argMin(ts, ${order}) AS first_ts${first}
      FROM events
      WHERE site = ${str(site)} AND ${where}
      GROUP BY client_ts, dedupe_key
    )`;
}

/**
 * A subquery: the events of a site whose time is in the range, each event once, with `ts` and
 * the asked columns of its first copy (the one SQLite keeps). The funnel queries build on it.
 */
export function dedupedEvents(site: string, range: TimeRange, columns: readonly EventColumn[]): string {
  const window = `ts >= ${int(range.fromMs - RETRY_WINDOW_MS)} AND ts < ${int(range.toMs)}`;
  return `(SELECT * FROM (${firstCopies(site, window, columns, 'ts')}) WHERE ts >= ${int(range.fromMs)})`;
}

/** Every stored column of an event, as `exportEvents` gives it (the store's own columns left out). */
export const EXPORTED_COLUMNS: readonly EventColumn[] = [
  'id', 'name', 'visitor', 'session', 'lead', 'url', 'path', 'landing', 'referrer', 'channel', 'source', 'medium',
  'campaign', 'term', 'content', 'browser', 'os', 'device', 'props', 'revenue_amount', 'revenue_currency', 'engaged_ms',
  'scroll', 'variant',
];

/** A site's events in the range, each once, oldest first (ties in order of arrival, as on SQLite). */
export const exportEvents = (site: string, range: TimeRange) =>
  `SELECT * FROM ${dedupedEvents(site, range, [...EXPORTED_COLUMNS, 'client_ts', 'arrival'])} ORDER BY ts, arrival`;

export const visitorsOfLead = (site: string, lead: string) => `SELECT DISTINCT visitor FROM events
  WHERE site = ${str(site)} AND lead = ${str(lead)}`;
const leadEventsWhere = (site: string, lead: string, visitors: string[]) => `site = ${str(site)}
  AND (lead = ${str(lead)}${visitors.length > 0 ? ` OR visitor IN (${visitors.map(str).join(', ')})` : ''})`;
export const countLeadEvents = (site: string, lead: string, visitors: string[]) =>
  `SELECT count() AS n FROM events WHERE ${leadEventsWhere(site, lead, visitors)}`;
export const deleteLeadEvents = (site: string, lead: string, visitors: string[]) =>
  `ALTER TABLE events DELETE WHERE ${leadEventsWhere(site, lead, visitors)}`;

export const firstEventTime = (site: string) => `SELECT min(ts) AS first, count() AS n FROM events WHERE site = ${str(site)}`;

export const eventStats = (site: string, range: TimeRange) => `SELECT
    count() AS events,
    countIf(name = 'pageview') AS pageviews,
    uniqExact(visitor) AS visitors
  FROM ${dedupedEvents(site, range, ['name', 'visitor'])}`;

export const botStats = (site: string, fromDay: string, toDay: string) => `SELECT sum(count) AS bots
  FROM bot_counts WHERE site = ${str(site)} AND day >= ${day(fromDay)} AND day <= ${day(toDay)}`;

// FINAL applies the replacement at read time that merges apply later: the highest version.
export const listSites = `SELECT domain, origins, allowed_params, created_at, retention_days
  FROM sites FINAL ORDER BY domain`;
export const siteExists = (domain: string) => `SELECT count() AS n FROM sites WHERE domain = ${str(domain)}`;
export const currentSite = (domain: string) => `SELECT domain, origins, allowed_params, created_at, retention_days, writer
  FROM sites FINAL WHERE domain = ${str(domain)}`;

export const listFunnels = (site: string) => `SELECT site, id, definition, created_at, updated_at
  FROM funnels FINAL WHERE site = ${str(site)} AND deleted = 0 ORDER BY id`;
export const allFunnels = `SELECT site, id, definition, created_at, updated_at FROM funnels FINAL WHERE deleted = 0`;
export const currentFunnel = (site: string, id: string) => `SELECT site, id, definition, created_at, updated_at
  FROM funnels FINAL WHERE site = ${str(site)} AND id = ${str(id)} AND deleted = 0`;

export const getSalt = (forDay: string) => `SELECT min(salt) AS salt, count() AS n FROM salts WHERE day = ${day(forDay)}`;
export const countSaltsBefore = (keepFromDay: string) => `SELECT count() AS n FROM salts WHERE day < ${day(keepFromDay)}`;
export const deleteSaltsBefore = (keepFromDay: string) => `ALTER TABLE salts DELETE WHERE day < ${day(keepFromDay)}`;
export const countVisitorEvents = (site: string, visitor: string) => `SELECT count() AS n FROM events
  WHERE site = ${str(site)} AND visitor = ${str(visitor)}`;
export const deleteVisitorEvents = (site: string, visitor: string) => `ALTER TABLE events DELETE
  WHERE site = ${str(site)} AND visitor = ${str(visitor)}`;
export const countEventsBefore = (site: string, beforeMs: number) => `SELECT count() AS n FROM events
  WHERE site = ${str(site)} AND ts < ${int(beforeMs)}`;
export const deleteEventsBefore = (site: string, beforeMs: number) => `ALTER TABLE events DELETE
  WHERE site = ${str(site)} AND ts < ${int(beforeMs)}`;
/** Mutations (ALTER ... DELETE) run in the background; 18.16 has no mutations_sync, so we poll this. */
export const pendingMutations = (database: string, table: string) => `SELECT count() AS n FROM system.mutations
  WHERE database = ${str(database)} AND table = ${str(table)} AND is_done = 0`;

// ---- Accounts. The deleted flag and expiry are filtered after FINAL (in the outer query), so
// a tombstone is never read past to an older row underneath it.

const liveRecords = (where: string, now: number) => `SELECT kind, id, body, expires_at FROM (
    SELECT kind, id, body, expires_at, deleted FROM account_records FINAL WHERE ${where})
  WHERE deleted = 0 AND (expires_at = 0 OR expires_at > ${int(now)})`;
export const getRecord = (kind: string, id: string, now: number) =>
  liveRecords(`kind = ${str(kind)} AND id = ${str(id)}`, now);
export const listRecords = (kind: string, now: number) => `${liveRecords(`kind = ${str(kind)}`, now)} ORDER BY id`;
export const eraseRecord = (kind: string, id: string) =>
  `ALTER TABLE account_records DELETE WHERE kind = ${str(kind)} AND id = ${str(id)}`;
export const countExpiredRecords = (now: number) =>
  `SELECT count() AS n FROM account_records WHERE expires_at != 0 AND expires_at <= ${int(now)}`;
export const deleteExpiredRecords = (now: number) =>
  `ALTER TABLE account_records DELETE WHERE expires_at != 0 AND expires_at <= ${int(now)}`;
export const listAudit = (beforeMs: number, limit: number) => `SELECT at, actor, action, site, target FROM audit_log
  WHERE at < ${int(beforeMs)} ORDER BY at DESC LIMIT ${int(limit)}`;

export const getSetting = (key: string) => `SELECT min(value) AS value, count() AS n FROM settings WHERE key = ${str(key)}`;

// ---- Leads (materialized: leads/replay.ts, clickhouse/leads.ts)

/** Whole events by key (a lead's timeline). */
export const eventsByKey = (site: string, keys: readonly { clientTs: number; dedupeKey: string }[]) =>
  firstCopies(site, `(client_ts, dedupe_key) IN (${keys.map((k) => `(${int(k.clientTs)}, ${str(k.dedupeKey)})`).join(', ')})`,
    [...EXPORTED_COLUMNS, 'client_ts', 'dedupe_key', 'arrival'], 'arrival');

/** What the lead tracker reads of an event (besides ts), with its key. */
export const LEAD_EVENT_COLUMNS = [
  'name', 'path', 'props', 'channel', 'source', 'medium', 'campaign', 'term', 'landing', 'visitor', 'session', 'lead',
  'client_ts', 'dedupe_key', 'arrival',
] as const satisfies readonly EventColumn[];

/** A site's anonymous events of the last hours (that arrived by `arrivalBound`), oldest arrival first: a signup after a take-over still joins them. */
export const recentAnonymousEvents = (site: string, sinceTs: number, arrivalBound: number) => `SELECT * FROM (
    ${firstCopies(site, `ts >= ${int(sinceTs)} AND arrival <= ${int(arrivalBound)}`, LEAD_EVENT_COLUMNS, 'arrival')}
  ) WHERE isNull(lead) ORDER BY arrival`;

/** The sales side's stage moves, the changes of lead settings and the erasures written in (afterSeq, upToSeq]. */
export const movesBetween = (afterSeq: number, upToSeq: number) => `SELECT site, seq, id, lead, stage, at, amount, currency
  FROM lead_moves WHERE seq > ${int(afterSeq)} AND seq <= ${int(upToSeq)}`;
export const settingsBetween = (afterSeq: number, upToSeq: number) => `SELECT site, seq, field, value
  FROM lead_settings WHERE seq > ${int(afterSeq)} AND seq <= ${int(upToSeq)}`;
export const erasuresBetween = (afterSeq: number, upToSeq: number) => `SELECT site, seq, lead, visitors
  FROM lead_erasures WHERE seq > ${int(afterSeq)} AND seq <= ${int(upToSeq)}`;
/** A site's lead settings as they were at `seq`. */
export const leadSettingsAt = (site: string, seq: number) => `SELECT field, argMax(value, seq) AS latest
  FROM lead_settings WHERE site = ${str(site)} AND seq <= ${int(seq)} GROUP BY field`;
export const currentLeadSettings = (site: string) => `SELECT field, argMax(value, seq) AS value
  FROM lead_settings WHERE site = ${str(site)} GROUP BY field`;

/** Sites with a webhook now: the only ones with deliveries to send (removing one drops its pending ones). */
/** Sites with a webhook or a CRM connector set up: those with deliveries to send. */
export const outboundSites = `SELECT DISTINCT site FROM (
    SELECT site, field FROM lead_settings WHERE field IN ('webhook', 'hubspot', 'pipedrive')
    GROUP BY site, field HAVING argMax(value, seq) != 'null')`;
export const latestAttempts = (site: string) => `SELECT id, argMax(status, seq) AS status, argMax(attempts, seq) AS attempts,
    argMax(next_at, seq) AS next_at
  FROM webhook_attempts WHERE site = ${str(site)} GROUP BY id`;

export const deleteLeadMoves = (site: string, lead: string) => `ALTER TABLE lead_moves DELETE
  WHERE site = ${str(site)} AND lead = ${str(lead)}`;
export const deleteLeadAttempts = (site: string, lead: string) => `ALTER TABLE webhook_attempts DELETE
  WHERE site = ${str(site)} AND lead = ${str(lead)}`;
export const countLeadRows = (site: string, lead: string) => `SELECT
    (SELECT count() FROM lead_moves WHERE site = ${str(site)} AND lead = ${str(lead)}) AS moves,
    (SELECT count() FROM webhook_attempts WHERE site = ${str(site)} AND lead = ${str(lead)}) AS attempts`;
/** A lead's rows of the materialized state (its record, timeline, deliveries): erased with it. */
export const deleteLeadState = (site: string, lead: string) => `ALTER TABLE materialized DELETE
  WHERE site = ${str(site)} AND ((kind = 'lead' AND key = ${str(lead)}) OR (kind IN ('lead_event', 'delivery') AND startsWith(key, ${str(`${lead}
`)})))`;

/** Which of these keys a site has stored already (an import counts its duplicates). */
export const storedKeys = (site: string, keys: readonly { clientTs: number; dedupeKey: string }[]) => `SELECT DISTINCT client_ts, dedupe_key
  FROM events WHERE site = ${str(site)}
    AND (client_ts, dedupe_key) IN (${keys.map((k) => `(${int(k.clientTs)}, ${str(k.dedupeKey)})`).join(', ')})`;

// ---- Materialized funnels (materializer.ts, funnels.ts)

/** What the funnels read of an event (LiveInput), besides ts and arrival. */
export const FUNNEL_EVENT_COLUMNS = [
  'name', 'path', 'props', 'channel', 'source', 'medium', 'campaign', 'device', 'browser', 'variant', 'landing',
  'revenue_amount', 'revenue_currency', 'engaged_ms', 'scroll', 'session', 'visitor', 'lead', 'arrival',
] as const satisfies readonly EventColumn[];

/** The keys of the events that arrived in (afterArrival, upToArrival], oldest first. */
export const arrivedBetween = (afterArrival: number, upToArrival: number, limit: number) => `SELECT site, arrival, ts, client_ts, dedupe_key
  FROM event_arrivals WHERE arrival > ${int(afterArrival)} AND arrival <= ${int(upToArrival)} ORDER BY arrival LIMIT ${int(limit)}`;

/** How many arrivals each second (of arrival) in [fromSecond, toSecond) holds. */
export const arrivalsPerSecond = (fromSecond: number, toSecond: number) => `SELECT intDiv(arrival, 1000000) AS second, count() AS n
  FROM event_arrivals WHERE arrival >= ${int(fromSecond * 1_000_000)} AND arrival < ${int(toSecond * 1_000_000)} GROUP BY second`;

/**
 * Partitions of event_arrivals (days of arrival) older than needed. Read from the rows, not from
 * system.parts: on a cluster the parts are each server's own, under another name (cluster.ts);
 * the rows are read by the primary key, and are those about to be dropped.
 */
export const oldArrivalPartitions = (beforeArrival: number) => `SELECT DISTINCT intDiv(arrival, 86400000000) AS partition
  FROM event_arrivals WHERE arrival < ${int(Math.floor(beforeArrival / 86_400_000_000) * 86_400_000_000)}`;
export const dropArrivalPartition = (partition: string) => `ALTER TABLE event_arrivals DROP PARTITION ${int(Number(partition))}`;

/**
 * Every stored copy of these events (keys), with the columns the funnels read: the caller keeps
 * each event's first copy to arrive. Copies of an event are stored up to RETRY_WINDOW_MS apart,
 * so their times are too: the keys' own times, fromTs..toTs, widened by that on both sides.
 */
export const copiesOf = (site: string, fromTs: number, toTs: number, keys: readonly { clientTs: number; dedupeKey: string }[]) =>
  `SELECT ts, ${FUNNEL_EVENT_COLUMNS.join(', ')}, term, client_ts, dedupe_key FROM events
  WHERE site = ${str(site)} AND ts >= ${int(fromTs - RETRY_WINDOW_MS)} AND ts <= ${int(toTs + RETRY_WINDOW_MS)}
    AND (client_ts, dedupe_key) IN (${keys.map((k) => `(${int(k.clientTs)}, ${str(k.dedupeKey)})`).join(', ')})`;

// What the funnels read of a site's history (at a start, in back-fills), a slice of time at a
// time, so that no query holds more than a slice: how many events each hour has, the events of
// a slice in (ts, arrival) order, copies and all, and the events of which the slice holds a
// copy that is not the first. (A copy's time is never before the first copy's: the clamp that
// makes it moves with the arrival, ingestion/enrichEvent.ts.)
const finiteTs = (ms: number) => int(Math.max(-1e15, Math.min(1e15, ms)));
const historyWhere = (site: string, fromTs: number, toTs: number, arrivalBound: number) =>
  `site = ${str(site)} AND ts >= ${finiteTs(fromTs)} AND ts < ${finiteTs(toTs)} AND arrival <= ${int(arrivalBound)}`;

/** The site's events per hour (hours since the epoch) with fromTs ≤ ts < toTs that had arrived by `arrivalBound`. */
export const eventsPerHour = (site: string, fromTs: number, toTs: number, arrivalBound: number) => `SELECT intDiv(ts, 3600000) AS hour, count() AS n
  FROM events WHERE ${historyWhere(site, fromTs, toTs, arrivalBound)} GROUP BY hour ORDER BY hour`;

/** Every copy of the site's events with fromTs ≤ ts < toTs that had arrived by `arrivalBound`, in (ts, arrival) order. */
export const eventCopies = (site: string, fromTs: number, toTs: number, arrivalBound: number) => `SELECT ts, ${FUNNEL_EVENT_COLUMNS.join(', ')}, client_ts, dedupe_key
  FROM events WHERE ${historyWhere(site, fromTs, toTs, arrivalBound)} ORDER BY ts, arrival`;

/** The events stored more than once with a copy in fromTs ≤ ts < toTs (by `arrivalBound`), and the arrival of their first copy. */
export const repeatedEvents = (site: string, fromTs: number, toTs: number, arrivalBound: number) => `SELECT client_ts, dedupe_key, min(arrival) AS first
  FROM events WHERE ${historyWhere(site, fromTs - RETRY_WINDOW_MS, toTs, arrivalBound)} AND startsWith(dedupe_key, 'i')
  GROUP BY client_ts, dedupe_key HAVING count() > 1 AND max(ts) >= ${finiteTs(fromTs)}`;

/** The newest and oldest event time of a site among the events that had arrived by `arrivalBound`. */
export const siteTimes = (site: string, arrivalBound: number) => `SELECT max(ts) AS newest, min(ts) AS oldest, count() AS n
  FROM events WHERE site = ${str(site)} AND arrival <= ${int(arrivalBound)}`;

/** Each visitor's link to a lead: its first event to arrive that named one (funnel/identity.ts). */
export const siteLinks = (site: string, arrivalBound: number) => `SELECT visitor, argMin(lead, arrival) AS first_lead, argMin(ts, arrival) AS first_at
  FROM events WHERE site = ${str(site)} AND isNotNull(lead) AND arrival <= ${int(arrivalBound)} GROUP BY visitor`;


/**
 * Materialized rows of a site and kinds whose keys fall in [fromKey, toKey): the holding version
 * of each, as latest_value, latest_deleted, latest_seq (18.16 would read an alias that names a
 * column into the aggregates).
 */
export const materializedRows = (site: string, kinds: readonly string[], fromKey: string, toKey: string, afterSeq = 0) => `SELECT kind, key,
    argMax(value, seq) AS latest_value, argMax(deleted, seq) AS latest_deleted, max(seq) AS latest_seq
  FROM materialized
  WHERE site = ${str(site)} AND kind IN (${kinds.map(str).join(', ')}) AND key >= ${str(fromKey)} AND key < ${str(toKey)}${afterSeq > 0 ? ` AND seq > ${int(afterSeq)}` : ''}
  GROUP BY kind, key`;

/** How many lead keys a site has rows for: fewer than a reader holds once an erasure's mutation removed some. */
export const leadKeyCount = (site: string) => `SELECT uniqExact(key) AS n FROM materialized WHERE site = ${str(site)} AND kind = 'lead'`;

/** Old versions of a funnel's rows, once it has a new definition or is deleted. */
export const deleteFunnelRows = (site: string, prefix: string, keepVersionPrefix: string | null) => `ALTER TABLE materialized DELETE
  WHERE site = ${str(site)} AND startsWith(key, ${str(prefix)})${keepVersionPrefix === null ? '' : ` AND NOT startsWith(key, ${str(keepVersionPrefix)})`}
    AND kind IN ('funnel_state', 'funnel_day', 'funnel_live', 'funnel_chain', 'funnel_stale', 'funnel_person', 'funnel_person_live', 'funnel_factor_day')`;

/** The people rows (final and live) of erased units, or that an erased visitor's event opened. */
export const deletePeopleRows = (site: string, units: readonly string[], visitors: readonly string[]) => `ALTER TABLE materialized DELETE
  WHERE site = ${str(site)} AND kind IN ('funnel_person', 'funnel_person_live') AND (${[
    ...units.map((unit) => `position(key, ${str(`\n${unit}\n`)}) > 0`),
    ...visitors.map((visitor) => `position(value, ${str(`"visitor":${JSON.stringify(visitor)},`)}) > 0`),
  ].join(' OR ') || '0'})`;

/** A people list's filter on a row's JSON: reached in [min, max], the window open (1), closed (0) or either (-1) at `now`. */
export interface PeopleRowFilter {
  min: number;
  max: number;
  open: number;
  now: number;
}

const peopleRowMatches = (filter: PeopleRowFilter, row: string) => `visitParamExtractInt(${row}, 'reached') BETWEEN ${int(filter.min)} AND ${int(filter.max)}
    ${filter.open < 0 ? '' : `AND (visitParamExtractInt(${row}, 'openUntil') >= ${int(filter.now)}) = ${int(filter.open)}`}`;

/**
 * The first `limit` keys in (afterKey, toKey) of which some version, not a tombstone, matches:
 * every key whose latest version matches and that comes before the last of them is among them
 * (without grouping every row of the range by key, as reading latest versions would).
 */
export const peopleCandidates = (site: string, afterKey: string, toKey: string, filter: PeopleRowFilter, limit: number) => `SELECT DISTINCT key
  FROM materialized
  WHERE site = ${str(site)} AND kind IN ('funnel_person', 'funnel_person_live') AND key > ${str(afterKey)} AND key < ${str(toKey)}
    AND deleted = 0 AND ${peopleRowMatches(filter, 'value')}
  ORDER BY key LIMIT ${int(limit)}`;

/** The latest versions of these people rows (final and live, JSON of funnel/people.ts PersonRow) that still match. */
export const latestPeople = (site: string, keys: readonly string[], filter: PeopleRowFilter) => `SELECT key, row FROM (
    SELECT key, argMax(value, seq) AS row, argMax(deleted, seq) AS gone
    FROM materialized
    WHERE site = ${str(site)} AND kind IN ('funnel_person', 'funnel_person_live') AND key IN (${keys.map(str).join(', ')})
    GROUP BY kind, key
  ) WHERE gone = 0 AND ${peopleRowMatches(filter, 'row')}`;

/** People rows whose entry began before a retention cut. */
export const expirePeopleRows = (site: string, beforeMs: number) => `ALTER TABLE materialized DELETE
  WHERE site = ${str(site)} AND kind IN ('funnel_person', 'funnel_person_live') AND visitParamExtractInt(value, 'start') < ${int(beforeMs)}`;
export const countPeopleRowsBefore = (site: string, beforeMs: number) => `SELECT count() AS n FROM materialized
  WHERE site = ${str(site)} AND kind IN ('funnel_person', 'funnel_person_live') AND visitParamExtractInt(value, 'start') < ${int(beforeMs)}`;

/** A visitor's own events in time order (first copies). */
export const visitorEvents = (site: string, visitor: string, limit: number) => `SELECT * FROM (
    ${firstCopies(site, `visitor = ${str(visitor)}`, [...EXPORTED_COLUMNS, 'client_ts', 'arrival'], 'ts')}
  ) ORDER BY ts, arrival LIMIT ${int(limit)}`;

/** The claims and renewals of a lease's latest term. */
export const leaseTerm = (name: string) => `SELECT term, holder, min(claimed_at) AS claimed_at, max(renewed_at) AS renewed_at
  FROM leases
  WHERE name = ${str(name)} AND term = (SELECT max(term) FROM leases WHERE name = ${str(name)})
  GROUP BY term, holder`;

// ---- Heatmaps (store/clickhouse/heatmaps.ts)

/** A heatmap's rows: one site, the paths in [from, to) (the pattern's prefix), a device class (null: all), UTC days. */
const heatmapWhere = (site: string, paths: { from: string; to: string }, device: string | null) =>
  `site = ${str(site)} AND path >= ${str(paths.from)} AND path < ${str(paths.to)}${device === null ? '' : ` AND device = ${str(device)}`}`;
export const heatmapClicks = (site: string, paths: { from: string; to: string }, device: string | null, fromDay: string, toDay: string) =>
  `SELECT path, selector, sum(count) AS count, sum(sum_x) AS sum_x, sum(sum_y) AS sum_y, sum(rage) AS rage
  FROM heatmap_clicks WHERE ${heatmapWhere(site, paths, device)} AND day >= ${day(fromDay)} AND day <= ${day(toDay)}
  GROUP BY path, selector`;
export const heatmapScroll = (site: string, paths: { from: string; to: string }, device: string | null, fromDay: string, toDay: string) =>
  `SELECT path, depth, sum(views) AS views
  FROM heatmap_scroll WHERE ${heatmapWhere(site, paths, device)} AND day >= ${day(fromDay)} AND day <= ${day(toDay)}
  GROUP BY path, depth`;
export const heatmapViews = (site: string, paths: { from: string; to: string }, device: string | null, fromMs: number, toMs: number) =>
  `SELECT ts, visitor, lead, path, device, seen, scroll, clicks
  FROM heatmap_views WHERE ${heatmapWhere(site, paths, device)} AND ts >= ${int(fromMs)} AND ts < ${int(toMs)}`;
const heatmapPeopleWhere = (site: string, lead: string | null, visitors: readonly string[]) => `site = ${str(site)} AND (${[
  ...(lead === null ? [] : [`lead = ${str(lead)}`]),
  ...(visitors.length > 0 ? [`visitor IN (${visitors.map(str).join(', ')})`] : []),
].join(' OR ') || '0'})`;
export const countHeatmapViewsOf = (site: string, lead: string | null, visitors: readonly string[]) =>
  `SELECT count() AS n FROM heatmap_views WHERE ${heatmapPeopleWhere(site, lead, visitors)}`;
export const deleteHeatmapViewsOf = (site: string, lead: string | null, visitors: readonly string[]) =>
  `ALTER TABLE heatmap_views DELETE WHERE ${heatmapPeopleWhere(site, lead, visitors)}`;
export const countHeatmapsBefore = (site: string, beforeMs: number, beforeDay: string) => `SELECT
    (SELECT count() FROM heatmap_views WHERE site = ${str(site)} AND ts < ${int(beforeMs)}) AS views,
    (SELECT count() FROM heatmap_clicks WHERE site = ${str(site)} AND day < ${day(beforeDay)}) AS clicks,
    (SELECT count() FROM heatmap_scroll WHERE site = ${str(site)} AND day < ${day(beforeDay)}) AS scroll`;
export const deleteHeatmapViewsBefore = (site: string, beforeMs: number) =>
  `ALTER TABLE heatmap_views DELETE WHERE site = ${str(site)} AND ts < ${int(beforeMs)}`;
export const deleteHeatmapDaysBefore = (table: 'heatmap_clicks' | 'heatmap_scroll', site: string, beforeDay: string) =>
  `ALTER TABLE ${table} DELETE WHERE site = ${str(site)} AND day < ${day(beforeDay)}`;
