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
  // Leads (ingest/src/leads): written only for events of leads, never read on the hot path.
  // lead_events holds the rowids of a lead's events (its timeline) so that events need no
  // index on visitor or lead; the outbox keeps webhook deliveries across restarts.
  `
  CREATE TABLE leads (
    site TEXT NOT NULL,
    lead TEXT NOT NULL,
    stage TEXT NOT NULL,
    stage_at INTEGER NOT NULL,
    score REAL NOT NULL,
    score_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    channel TEXT NOT NULL,
    source TEXT,
    medium TEXT,
    campaign TEXT,
    term TEXT,
    landing TEXT NOT NULL,
    PRIMARY KEY (site, lead)
  ) WITHOUT ROWID;

  CREATE TABLE lead_stage_changes (
    site TEXT NOT NULL,
    lead TEXT NOT NULL,
    seq INTEGER NOT NULL,
    stage TEXT NOT NULL,
    from_stage TEXT,
    at INTEGER NOT NULL,
    amount REAL,
    currency TEXT,
    by TEXT NOT NULL,
    PRIMARY KEY (site, lead, seq)
  ) WITHOUT ROWID;

  CREATE TABLE lead_visitors (
    site TEXT NOT NULL,
    visitor TEXT NOT NULL,
    lead TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (site, visitor)
  ) WITHOUT ROWID;

  CREATE TABLE lead_events (
    site TEXT NOT NULL,
    lead TEXT NOT NULL,
    event INTEGER NOT NULL,
    PRIMARY KEY (site, lead, event)
  ) WITHOUT ROWID;

  CREATE TABLE lead_settings (
    site TEXT PRIMARY KEY,
    scoring TEXT,
    webhook TEXT
  ) WITHOUT ROWID;

  CREATE TABLE webhook_outbox (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    lead TEXT NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_error TEXT,
    failed_at INTEGER
  );
  CREATE INDEX webhook_outbox_due ON webhook_outbox (next_at) WHERE failed_at IS NULL;
  `,
  `
  ALTER TABLE sites ADD COLUMN retention_days INTEGER;
  CREATE INDEX webhook_outbox_lead ON webhook_outbox (site, lead, id) WHERE failed_at IS NULL;
  `,
  // Materialized funnels (funnel/materializer.ts): per funnel, the day aggregates of its final
  // entries and how far they go (threshold), for the definition they were computed for
  // (version); the end of the window of each unit's last final entry, while it can still hold
  // back a later one; a snapshot of each site's live journeys (funnelRuntime.ts); and the
  // rowid of the event that linked each visitor to its lead (a snapshot's links are those before it).
  `
  ALTER TABLE lead_visitors ADD COLUMN arrival INTEGER;

  CREATE TABLE funnel_state (
    site TEXT NOT NULL,
    funnel TEXT NOT NULL,
    version TEXT NOT NULL,
    threshold INTEGER,
    complete INTEGER NOT NULL,
    PRIMARY KEY (site, funnel)
  ) WITHOUT ROWID;

  CREATE TABLE funnel_days (
    site TEXT NOT NULL,
    funnel TEXT NOT NULL,
    day TEXT NOT NULL,
    aggregate TEXT NOT NULL,
    PRIMARY KEY (site, funnel, day)
  ) WITHOUT ROWID;

  CREATE TABLE funnel_snapshot (
    site TEXT PRIMARY KEY,
    data TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE funnel_chain_ends (
    site TEXT NOT NULL,
    funnel TEXT NOT NULL,
    unit TEXT NOT NULL,
    window_end INTEGER NOT NULL,
    PRIMARY KEY (site, funnel, unit)
  ) WITHOUT ROWID;
  `,
  // Accounts (accounts/): users, sessions, API keys and shared links as JSON records (secrets
  // only as hashes); the audit log. Records expire (sessions) or stay until deleted (NULL).
  `
  CREATE TABLE account_records (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (kind, id)
  ) WITHOUT ROWID;

  CREATE TABLE audit_log (
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    site TEXT,
    target TEXT
  );
  CREATE INDEX audit_log_at ON audit_log (at);
  `,
  // CRM connectors (crm/): their settings beside the webhook's, and a delivery per target
  // (leads/outbound.ts), each target's in order per lead.
  `
  ALTER TABLE lead_settings ADD COLUMN hubspot TEXT;
  ALTER TABLE lead_settings ADD COLUMN pipedrive TEXT;
  ALTER TABLE webhook_outbox ADD COLUMN target TEXT NOT NULL DEFAULT 'webhook';
  DROP INDEX webhook_outbox_lead;
  CREATE INDEX webhook_outbox_lead ON webhook_outbox (site, lead, target, id) WHERE failed_at IS NULL;
  `,
  // Heatmaps (heatmaps/): per site, path, device class and day, each selector's clicks and the
  // pageviews that reached each 10% of the page (depth 0: the pageviews), added to at ingest, so
  // a heatmap reads as many rows as there are distinct elements; and each heatmapped pageview's
  // chunks (who, when, what), for the funnel split, erased with the person and expired with the events.
  `
  CREATE TABLE heatmap_clicks (
    site TEXT NOT NULL,
    path TEXT NOT NULL,
    device TEXT NOT NULL,
    day TEXT NOT NULL,
    selector TEXT NOT NULL,
    count INTEGER NOT NULL,
    sum_x REAL NOT NULL,
    sum_y REAL NOT NULL,
    rage INTEGER NOT NULL,
    PRIMARY KEY (site, path, device, day, selector)
  ) WITHOUT ROWID;

  CREATE TABLE heatmap_scroll (
    site TEXT NOT NULL,
    path TEXT NOT NULL,
    device TEXT NOT NULL,
    day TEXT NOT NULL,
    depth INTEGER NOT NULL,
    views INTEGER NOT NULL,
    PRIMARY KEY (site, path, device, day, depth)
  ) WITHOUT ROWID;

  CREATE TABLE heatmap_views (
    site TEXT NOT NULL,
    ts INTEGER NOT NULL,
    visitor TEXT NOT NULL,
    lead TEXT,
    path TEXT NOT NULL,
    device TEXT NOT NULL,
    seen INTEGER,
    scroll INTEGER,
    clicks TEXT NOT NULL
  );
  CREATE INDEX heatmap_views_path ON heatmap_views (site, path, ts);
  CREATE INDEX heatmap_views_ts ON heatmap_views (site, ts);
  `,
  // People lists (funnel/people.ts): a row per final entry of a funnel, in the order a list
  // pages them (entry time, unit); its columns are what a list filters on, the rest is JSON. And
  // per funnel and day, the factors of its final entries added up (what a correlation merges).
  `
  CREATE TABLE funnel_people (
    site TEXT NOT NULL,
    funnel TEXT NOT NULL,
    start INTEGER NOT NULL,
    unit TEXT NOT NULL,
    opens_at INTEGER NOT NULL,
    reached INTEGER NOT NULL,
    open_until INTEGER NOT NULL,
    visitor TEXT NOT NULL,
    row TEXT NOT NULL,
    PRIMARY KEY (site, funnel, start, unit, opens_at)
  ) WITHOUT ROWID;

  CREATE TABLE funnel_factor_days (
    site TEXT NOT NULL,
    funnel TEXT NOT NULL,
    day TEXT NOT NULL,
    factors TEXT NOT NULL,
    PRIMARY KEY (site, funnel, day)
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

  insertSite: `INSERT OR IGNORE INTO sites (domain, origins, allowed_params, created_at, retention_days) VALUES (?, ?, ?, ?, ?)`,
  updateSite: `UPDATE sites SET origins = ?, allowed_params = ?, retention_days = ? WHERE domain = ?`,
  listSites: `SELECT domain, origins, allowed_params, created_at, retention_days FROM sites ORDER BY domain`,

  // Erasing one person (a visitor or a lead) and exporting a site: rare, so a scan of the
  // site's events (no visitor index on the hot table) is the right trade.
  deleteVisitorTimeline: `DELETE FROM lead_events WHERE event IN (SELECT rowid FROM events WHERE site = ? AND visitor = ?)`,
  deleteVisitorEvents: `DELETE FROM events WHERE site = ? AND visitor = ?`,
  deleteVisitorLinks: `DELETE FROM lead_visitors WHERE site = ? AND visitor = ?`,
  visitorsOfLead: `SELECT visitor FROM lead_visitors WHERE site = ? AND lead = ?`,
  deleteLeadTimeline: `DELETE FROM lead_events WHERE site = ? AND lead = ?`,
  deleteLeadEvents: `DELETE FROM events WHERE site = ? AND lead = ?`,
  leadEventRowids: `SELECT rowid FROM events WHERE site = ? AND lead = ?`,
  deleteLeadRow: `DELETE FROM leads WHERE site = ? AND lead = ?`,
  deleteLeadChanges: `DELETE FROM lead_stage_changes WHERE site = ? AND lead = ?`,
  deleteLeadLinks: `DELETE FROM lead_visitors WHERE site = ? AND lead = ?`,
  deleteLeadOutbox: `DELETE FROM webhook_outbox WHERE site = ? AND lead = ?`,
  exportEvents: `SELECT * FROM events WHERE site = ? AND ts >= ? AND ts < ? ORDER BY ts`,
  // Retention deletes the oldest events a slice at a time, so a commit never waits long.
  expireTimeline: `DELETE FROM lead_events WHERE event IN (SELECT rowid FROM events WHERE site = ? AND ts < ? ORDER BY ts LIMIT ?)`,
  expireEvents: `DELETE FROM events WHERE rowid IN (SELECT rowid FROM events WHERE site = ? AND ts < ? ORDER BY ts LIMIT ?)`,

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

  // ---- Materialized funnels
  /** `site, up to rowid` */
  siteWatermark: `SELECT max(ts) AS ts FROM events WHERE site = ? AND rowid <= ?`,
  siteFirstEvent: `SELECT min(ts) AS ts FROM events WHERE site = ?`,
  lastArrival: `SELECT max(rowid) AS n FROM events`,
  /** `site, up to rowid`: links made by events before it (those of an older store have no rowid: before everything). */
  siteLinks: `SELECT visitor, lead, at FROM lead_visitors WHERE site = ? AND coalesce(arrival, 0) <= ?`,
  /** A site's events after a rowid (up to one), in order of arrival: `site, after, up to, limit` (FUNNEL_EVENT_COLUMNS). */
  funnelEventsAfter: `SELECT rowid, ts, name, path, props, channel, source, medium, campaign, device, browser, variant,
      landing, revenue_amount, revenue_currency, engaged_ms, scroll, session, visitor, lead
    FROM events WHERE rowid > ? AND rowid <= ? AND site = ? ORDER BY rowid LIMIT ?`,
  /**
   * A page of a site's events for the funnels, in (ts, rowid) order from just after (ts, rowid)
   * (the (site, ts) index walks it without a sort): `site, from ts, after ts, after rowid, until
   * ts, up to rowid, limit`. Read a page at a time, so no read transaction stays open (it would
   * keep the WAL from being checkpointed). Raw rows, in this column order (FUNNEL_EVENT_COLUMNS).
   */
  funnelEventPage: `SELECT rowid, ts, name, path, props, channel, source, medium, campaign, device, browser, variant,
      landing, revenue_amount, revenue_currency, engaged_ms, scroll, session, visitor, lead
    FROM events INDEXED BY events_site_ts
    WHERE site = ? AND ts >= ? AND NOT (ts = ? AND rowid <= ?) AND ts < ? AND rowid <= ?
    ORDER BY ts, rowid LIMIT ?`,
  /** The keys of the events of funnelEventPage (same parameters): `rowid, ts, visitor`. */
  funnelKeyPage: `SELECT rowid, ts, visitor
    FROM events INDEXED BY events_site_ts
    WHERE site = ? AND ts >= ? AND NOT (ts = ? AND rowid <= ?) AND ts < ? AND rowid <= ?
    ORDER BY ts, rowid LIMIT ?`,
  putFunnelSnapshot: `INSERT OR REPLACE INTO funnel_snapshot (site, data) VALUES (?, ?)`,
  funnelSnapshot: `SELECT data FROM funnel_snapshot WHERE site = ?`,
  deleteFunnelSnapshot: `DELETE FROM funnel_snapshot WHERE site = ?`,
  /** Events by rowid (a JSON array of them), for the live state's idle units: raw rows in FUNNEL_EVENT_COLUMNS order. */
  funnelEventsByRowid: `SELECT rowid, ts, name, path, props, channel, source, medium, campaign, device, browser, variant,
      landing, revenue_amount, revenue_currency, engaged_ms, scroll, session, visitor, lead
    FROM events WHERE rowid IN (SELECT value FROM json_each(?))`,
  funnelState: `SELECT version, threshold, complete FROM funnel_state WHERE site = ? AND funnel = ?`,
  putFunnelState: `INSERT INTO funnel_state (site, funnel, version, threshold, complete) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (site, funnel) DO UPDATE SET version = excluded.version, threshold = excluded.threshold, complete = excluded.complete`,
  setFunnelThreshold: `UPDATE funnel_state SET threshold = ? WHERE site = ? AND funnel = ?`,
  setFunnelComplete: `UPDATE funnel_state SET complete = 1 WHERE site = ? AND funnel = ?`,
  deleteFunnelState: `DELETE FROM funnel_state WHERE site = ? AND funnel = ?`,
  funnelDays: `SELECT day, aggregate FROM funnel_days WHERE site = ? AND funnel = ? AND day >= ? AND day <= ?`,
  putFunnelDay: `INSERT OR REPLACE INTO funnel_days (site, funnel, day, aggregate) VALUES (?, ?, ?, ?)`,
  deleteFunnelDays: `DELETE FROM funnel_days WHERE site = ? AND funnel = ?`,
  chainEnds: `SELECT unit, window_end FROM funnel_chain_ends WHERE site = ? AND funnel = ?`,
  putChainEnd: `INSERT OR REPLACE INTO funnel_chain_ends (site, funnel, unit, window_end) VALUES (?, ?, ?, ?)`,
  pruneChainEnds: `DELETE FROM funnel_chain_ends WHERE site = ? AND funnel = ? AND window_end < ?`,
  deleteChainEnds: `DELETE FROM funnel_chain_ends WHERE site = ? AND funnel = ?`,

  // People rows. A page's window state is -1 for either, else 1 for open and 0 for closed at a time.
  putPerson: `INSERT OR REPLACE INTO funnel_people (site, funnel, start, unit, opens_at, reached, open_until, visitor, row)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  peoplePage: `SELECT row FROM funnel_people
    WHERE site = ? AND funnel = ? AND start >= ? AND start < ? AND reached BETWEEN ? AND ?
      AND (? < 0 OR (open_until >= ?) = ?) AND (start, unit, opens_at) > (?, ?, ?)
    ORDER BY start, unit, opens_at LIMIT ?`,
  deletePeople: `DELETE FROM funnel_people WHERE site = ? AND funnel = ?`,
  factorDays: `SELECT day, factors FROM funnel_factor_days WHERE site = ? AND funnel = ? AND day >= ? AND day <= ?`,
  putFactorDay: `INSERT OR REPLACE INTO funnel_factor_days (site, funnel, day, factors) VALUES (?, ?, ?, ?)`,
  deleteFactorDays: `DELETE FROM funnel_factor_days WHERE site = ? AND funnel = ?`,
  deleteVisitorPeople: `DELETE FROM funnel_people WHERE site = ? AND (visitor = ? OR unit = 'visitor:' || ?)`,
  deleteLeadPeople: `DELETE FROM funnel_people WHERE site = ? AND unit = 'lead:' || ?`,
  expirePeople: `DELETE FROM funnel_people WHERE site = ? AND start < ?`,
  visitorEvents: `SELECT * FROM events WHERE site = ? AND visitor = ? ORDER BY ts, rowid LIMIT ?`,

  insertSalt: `INSERT OR IGNORE INTO salts (day, salt) VALUES (?, ?)`,
  getSalt: `SELECT salt FROM salts WHERE day = ?`,
  deleteSaltsBefore: `DELETE FROM salts WHERE day < ?`,

  upsertLead: `INSERT INTO leads (site, lead, stage, stage_at, score, score_at, created_at, first_seen, last_seen,
      channel, source, medium, campaign, term, landing)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (site, lead) DO UPDATE SET stage = excluded.stage, stage_at = excluded.stage_at,
      score = excluded.score, score_at = excluded.score_at, first_seen = excluded.first_seen,
      last_seen = excluded.last_seen, channel = excluded.channel, source = excluded.source,
      medium = excluded.medium, campaign = excluded.campaign, term = excluded.term, landing = excluded.landing`,
  insertStageChange: `INSERT OR IGNORE INTO lead_stage_changes (site, lead, seq, stage, from_stage, at, amount, currency, by)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  insertLeadVisitor: `INSERT OR IGNORE INTO lead_visitors (site, visitor, lead, at, arrival) VALUES (?, ?, ?, ?, ?)`,
  insertLeadEvent: `INSERT OR IGNORE INTO lead_events (site, lead, event) VALUES (?, ?, ?)`,
  allLeads: `SELECT site, lead, stage, stage_at, score, score_at, created_at, first_seen, last_seen,
      channel, source, medium, campaign, term, landing FROM leads`,
  allStageChanges: `SELECT site, lead, seq, stage, from_stage, at, amount, currency, by FROM lead_stage_changes ORDER BY site, lead, seq`,
  allLeadVisitors: `SELECT site, visitor, lead FROM lead_visitors`,
  /** The anonymous events of recent visits of a site: a signup after a restart still joins them. */
  recentAnonymousEvents: `SELECT rowid AS ref, site, ts, name, path, props, channel, source, medium, campaign, term,
      landing, visitor, session, lead FROM events WHERE site = ? AND ts >= ? AND lead IS NULL ORDER BY ts`,
  leadEvents: `SELECT e.* FROM lead_events le JOIN events e ON e.rowid = le.event
    WHERE le.site = ? AND le.lead = ? ORDER BY e.ts, e.rowid LIMIT ?`,

  allLeadSettings: `SELECT site, scoring, webhook, hubspot, pipedrive FROM lead_settings`,
  putScoring: `INSERT INTO lead_settings (site, scoring, webhook) VALUES (?, ?, NULL)
    ON CONFLICT (site) DO UPDATE SET scoring = excluded.scoring`,
  putWebhook: `INSERT INTO lead_settings (site, scoring, webhook) VALUES (?, NULL, ?)
    ON CONFLICT (site) DO UPDATE SET webhook = excluded.webhook`,
  putHubspot: `INSERT INTO lead_settings (site, hubspot) VALUES (?, ?)
    ON CONFLICT (site) DO UPDATE SET hubspot = excluded.hubspot`,
  putPipedrive: `INSERT INTO lead_settings (site, pipedrive) VALUES (?, ?)
    ON CONFLICT (site) DO UPDATE SET pipedrive = excluded.pipedrive`,

  insertDelivery: `INSERT INTO webhook_outbox (site, lead, target, type, body, attempts, next_at, created_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)`,
  /** Due deliveries, each lead's in order per target: one waits while an earlier one to that target is pending. */
  dueDeliveries: `SELECT id, site, lead, target, type, body, attempts, next_at, created_at FROM webhook_outbox AS o
    WHERE failed_at IS NULL AND next_at <= ? AND NOT EXISTS (
      SELECT 1 FROM webhook_outbox AS p
      WHERE p.site = o.site AND p.lead = o.lead AND p.target = o.target AND p.id < o.id AND p.failed_at IS NULL)
    ORDER BY next_at, id LIMIT ?`,
  deleteDelivery: `DELETE FROM webhook_outbox WHERE id = ?`,
  retryDelivery: `UPDATE webhook_outbox SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?`,
  holdDelivery: `UPDATE webhook_outbox SET next_at = ?, last_error = ? WHERE id = ?`,
  failDelivery: `UPDATE webhook_outbox SET attempts = attempts + 1, failed_at = ?, last_error = ? WHERE id = ?`,
  dropPendingDeliveries: `DELETE FROM webhook_outbox WHERE site = ? AND target = ? AND failed_at IS NULL`,

  putRecord: `INSERT INTO account_records (kind, id, body, expires_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body, expires_at = excluded.expires_at`,
  getRecord: `SELECT kind, id, body, expires_at FROM account_records
    WHERE kind = ? AND id = ? AND (expires_at IS NULL OR expires_at > ?)`,
  listRecords: `SELECT kind, id, body, expires_at FROM account_records
    WHERE kind = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY id`,
  deleteRecord: `DELETE FROM account_records WHERE kind = ? AND id = ?`,
  deleteExpiredRecords: `DELETE FROM account_records WHERE expires_at IS NOT NULL AND expires_at <= ?`,
  appendAudit: `INSERT INTO audit_log (at, actor, action, site, target) VALUES (?, ?, ?, ?, ?)`,
  listAudit: `SELECT at, actor, action, site, target FROM audit_log WHERE at < ? ORDER BY at DESC, rowid DESC LIMIT ?`,

  getSetting: `SELECT value FROM settings WHERE key = ?`,
  insertSetting: `INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)`,
} as const;

/** The heatmaps' statements (store/sqlite/heatmaps.ts). */
export const HEATMAP_SQL = {
  addClicks: `INSERT INTO heatmap_clicks (site, path, device, day, selector, count, sum_x, sum_y, rage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (site, path, device, day, selector) DO UPDATE SET count = count + excluded.count,
      sum_x = sum_x + excluded.sum_x, sum_y = sum_y + excluded.sum_y, rage = rage + excluded.rage`,
  addScroll: `INSERT INTO heatmap_scroll (site, path, device, day, depth, views) VALUES (?, ?, ?, ?, ?, 1)
    ON CONFLICT (site, path, device, day, depth) DO UPDATE SET views = views + 1`,
  insertView: `INSERT INTO heatmap_views (site, ts, visitor, lead, path, device, seen, scroll, clicks) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  /** `site, path from, path to, device (null: any), device, from day, to day` */
  clicks: `SELECT path, selector, sum(count) AS count, sum(sum_x) AS sum_x, sum(sum_y) AS sum_y, sum(rage) AS rage
    FROM heatmap_clicks WHERE site = ? AND path >= ? AND path < ? AND (? IS NULL OR device = ?) AND day >= ? AND day <= ?
    GROUP BY path, selector`,
  scroll: `SELECT path, depth, sum(views) AS views
    FROM heatmap_scroll WHERE site = ? AND path >= ? AND path < ? AND (? IS NULL OR device = ?) AND day >= ? AND day <= ?
    GROUP BY path, depth`,
  /** `site, path from, path to, device (null: any), device, from ts, to ts` */
  views: `SELECT ts, visitor, lead, path, device, seen, scroll, clicks
    FROM heatmap_views WHERE site = ? AND path >= ? AND path < ? AND (? IS NULL OR device = ?) AND ts >= ? AND ts < ?`,
  deleteVisitorViews: `DELETE FROM heatmap_views WHERE site = ? AND visitor = ?`,
  deleteLeadViews: `DELETE FROM heatmap_views WHERE site = ? AND lead = ?`,
  expireViews: `DELETE FROM heatmap_views WHERE rowid IN (SELECT rowid FROM heatmap_views WHERE site = ? AND ts < ? ORDER BY ts LIMIT ?)`,
  expireClicks: `DELETE FROM heatmap_clicks WHERE site = ? AND day < ?`,
  expireScroll: `DELETE FROM heatmap_scroll WHERE site = ? AND day < ?`,
} as const;
