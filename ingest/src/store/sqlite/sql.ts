// Every SQL statement of the SQLite store, in one place.

/**
 * Schema migrations, applied in order; PRAGMA user_version records how many ran.
 *
 * The events table is the hot path. Its rowid grows with arrival, and it has exactly two
 * indexes, both of which grow at their right edge: (site, ts) for range scans, and the
 * de-duplication key (site, client_ts, id). Putting the client's own timestamp before the
 * random id keeps that key append-mostly; an index led by a random id costs about three times
 * the write throughput (measured while designing this, see BENCHMARKS.md).
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE events (
    site TEXT NOT NULL,
    id TEXT,
    client_ts INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    name TEXT NOT NULL,
    visitor TEXT NOT NULL,
    session TEXT NOT NULL,
    lead TEXT,
    url TEXT NOT NULL,
    path TEXT NOT NULL,
    landing TEXT NOT NULL,
    referrer TEXT,
    channel TEXT NOT NULL,
    source TEXT,
    medium TEXT,
    campaign TEXT,
    term TEXT,
    content TEXT,
    browser TEXT,
    os TEXT,
    device TEXT,
    props TEXT,
    revenue_amount REAL,
    revenue_currency TEXT,
    engaged_ms INTEGER,
    scroll INTEGER,
    variant TEXT
  );
  CREATE INDEX events_site_ts ON events (site, ts);
  CREATE UNIQUE INDEX events_dedupe ON events (site, client_ts, id) WHERE id IS NOT NULL;

  CREATE TABLE bot_counts (
    site TEXT NOT NULL,
    day TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (site, day)
  ) WITHOUT ROWID;

  CREATE TABLE sites (
    domain TEXT PRIMARY KEY,
    origins TEXT NOT NULL,
    allowed_params TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE salts (
    day TEXT PRIMARY KEY,
    salt TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  `
  CREATE TABLE funnels (
    site TEXT NOT NULL,
    id TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (site, id)
  ) WITHOUT ROWID;
  `,
];

export const SQL = {
  insertEvent: `INSERT OR IGNORE INTO events (
      site, id, client_ts, ts, name, visitor, session, lead, url, path, landing, referrer,
      channel, source, medium, campaign, term, content, browser, os, device,
      props, revenue_amount, revenue_currency, engaged_ms, scroll, variant)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  addBots: `INSERT INTO bot_counts (site, day, count) VALUES (?, ?, ?)
    ON CONFLICT (site, day) DO UPDATE SET count = count + excluded.count`,

  insertSite: `INSERT OR IGNORE INTO sites (domain, origins, allowed_params, created_at) VALUES (?, ?, ?, ?)`,
  updateSite: `UPDATE sites SET origins = ?, allowed_params = ? WHERE domain = ?`,
  listSites: `SELECT domain, origins, allowed_params, created_at FROM sites ORDER BY domain`,

  eventStats: `SELECT count(*) AS events,
      coalesce(sum(name = 'pageview'), 0) AS pageviews,
      count(DISTINCT visitor) AS visitors
    FROM events WHERE site = ? AND ts >= ? AND ts < ?`,
  botStats: `SELECT coalesce(sum(count), 0) AS bots FROM bot_counts WHERE site = ? AND day >= ? AND day <= ?`,

  upsertFunnel: `INSERT INTO funnels (site, id, definition, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (site, id) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`,
  listFunnels: `SELECT site, id, definition, created_at, updated_at FROM funnels WHERE site = ? ORDER BY id`,
  allFunnels: `SELECT site, id, definition, created_at, updated_at FROM funnels`,
  deleteFunnel: `DELETE FROM funnels WHERE site = ? AND id = ?`,
  /** Every event, in the order funnels read them: the back-fill of the in-memory funnel index. */
  scanFunnelEvents: `SELECT site, ts, name, path, props, channel, source, medium, campaign, device, browser, variant,
      landing, revenue_amount, revenue_currency, engaged_ms, scroll, session, visitor, lead
    FROM events ORDER BY site, ts`,

  insertSalt: `INSERT OR IGNORE INTO salts (day, salt) VALUES (?, ?)`,
  getSalt: `SELECT salt FROM salts WHERE day = ?`,
  deleteSaltsBefore: `DELETE FROM salts WHERE day < ?`,

  getSetting: `SELECT value FROM settings WHERE key = ?`,
  insertSetting: `INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)`,
} as const;
