// Configuration from the environment (CONTRACT.md, "Commands"), read once by main.ts; tests
// build the same object by hand.
import type { WebhookOptions } from './leads/webhook.js';
import type { ThrottleLimits } from './accounts/loginThrottle.js';
import { DEFAULT_CRM_API_URLS, type CrmApiUrls } from './crm/connectors.js';

export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  /** CLICKHOUSE_CLUSTER: with a clickhouse:// DATABASE_URL, the cluster (remote_servers) the schema is made on; null: one server. */
  clickhouseCluster: string | null;
  /**
   * SPOOL_DIR: with ClickHouse, events are acknowledged once in this local spool and shipped in
   * large inserts (ingestion/spool.ts); null: acknowledged once ClickHouse has them.
   */
  spoolDir: string | null;
  /** SPOOL_SYNCHRONOUS, as SQLITE_SYNCHRONOUS: NORMAL survives a crash of the process, FULL also a power loss (an fdatasync per commit). */
  spoolSynchronous: 'NORMAL' | 'FULL';
  /** Null: generated on first start and kept in the store. */
  adminToken: string | null;
  /** Requests per IP and minute on every route; 0 turns the limit off. */
  rateLimitPerMinute: number;
  /** Events waiting for a commit before new ones get 503. */
  maxQueuedEvents: number;
  /** Event-loop lag (ms) past which POST /api/event sheds with 503: CPU overload, not storage. 0 turns it off. */
  maxEventLoopDelayMs: number;
  /** How often the lag is sampled (ms). */
  eventLoopSampleMs?: number;
  sqliteSynchronous: 'NORMAL' | 'FULL';
  /** Count events from automated browsers (navigator.webdriver, HeadlessChrome): for tests and demos. */
  acceptAutomatedBrowsers: boolean;
  /** Trust X-Forwarded-For from a proxy in front of the collector. */
  trustProxy: boolean;
  /** Outgoing lead webhooks; what is not set comes from DEFAULT_WEBHOOK_OPTIONS. */
  webhooks?: Partial<WebhookOptions>;
  /** Failed sign-ins allowed per account and address (tests lower them); unset: DEFAULT_THROTTLE. */
  loginThrottle?: ThrottleLimits;
  /** Where the CRMs' REST APIs are (HUBSPOT_API_URL, PIPEDRIVE_API_URL): their public hosts, or a stand-in in tests. */
  crmApiUrls: CrmApiUrls;
}

export class ConfigError extends Error {}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(`${name} must be a whole number ≥ 0, got "${raw}"`);
  return value;
}

/** A base URL without a trailing slash. */
function apiUrl(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const raw = env[name];
  if (!raw) return fallback;
  try {
    const url = new URL(raw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
    return url.href.replace(/\/$/, '');
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got "${raw}"`);
  }
}

/** CLICKHOUSE_CLUSTER, a name from remote_servers (inlined into ON CLUSTER, so an identifier). */
function clusterName(env: NodeJS.ProcessEnv): string | null {
  const raw = env.CLICKHOUSE_CLUSTER;
  if (!raw) return null;
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(raw)) throw new ConfigError(`CLICKHOUSE_CLUSTER must be letters, digits and _, got "${raw}"`);
  return raw;
}

/** NORMAL (the default) or FULL: whether each commit is also flushed to the disk itself. */
function synchronousMode(env: NodeJS.ProcessEnv, name: string): 'NORMAL' | 'FULL' {
  const mode = (env[name] ?? 'NORMAL').toUpperCase();
  if (mode !== 'NORMAL' && mode !== 'FULL') throw new ConfigError(`${name} must be NORMAL or FULL, got "${env[name]}"`);
  return mode;
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  return ['1', 'true', 'yes'].includes((env[name] ?? '').toLowerCase());
}

export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return {
    port: 8080,
    host: '127.0.0.1',
    databaseUrl: 'sqlite:./data/funnelbeam.db',
    clickhouseCluster: null,
    spoolDir: null,
    spoolSynchronous: 'NORMAL',
    adminToken: null,
    rateLimitPerMinute: 6000,
    maxQueuedEvents: 50_000,
    maxEventLoopDelayMs: 500,
    sqliteSynchronous: 'NORMAL',
    acceptAutomatedBrowsers: false,
    trustProxy: false,
    crmApiUrls: DEFAULT_CRM_API_URLS,
    ...overrides,
  };
}

export function readConfig(env: NodeJS.ProcessEnv): Config {
  const synchronous = synchronousMode(env, 'SQLITE_SYNCHRONOUS');
  const base = defaultConfig();
  const databaseUrl = env.DATABASE_URL || base.databaseUrl;
  if (env.SPOOL_DIR && databaseUrl.startsWith('sqlite:')) {
    throw new ConfigError('SPOOL_DIR is for a collector on ClickHouse: SQLite commits on this machine already');
  }
  return {
    port: integer(env, 'PORT', base.port),
    host: env.HOST || base.host,
    databaseUrl,
    clickhouseCluster: clusterName(env),
    spoolDir: env.SPOOL_DIR || null,
    spoolSynchronous: synchronousMode(env, 'SPOOL_SYNCHRONOUS'),
    adminToken: env.ADMIN_TOKEN || null,
    rateLimitPerMinute: integer(env, 'RATE_LIMIT_PER_MINUTE', base.rateLimitPerMinute),
    maxQueuedEvents: integer(env, 'MAX_QUEUED_EVENTS', base.maxQueuedEvents) || base.maxQueuedEvents,
    maxEventLoopDelayMs: integer(env, 'MAX_EVENT_LOOP_DELAY_MS', base.maxEventLoopDelayMs),
    sqliteSynchronous: synchronous,
    acceptAutomatedBrowsers: flag(env, 'ACCEPT_AUTOMATED_BROWSERS'),
    trustProxy: flag(env, 'TRUST_PROXY'),
    webhooks: { allowPrivateAddresses: flag(env, 'WEBHOOK_ALLOW_PRIVATE_ADDRESSES') },
    crmApiUrls: {
      hubspot: apiUrl(env, 'HUBSPOT_API_URL', DEFAULT_CRM_API_URLS.hubspot),
      pipedrive: apiUrl(env, 'PIPEDRIVE_API_URL', DEFAULT_CRM_API_URLS.pipedrive),
    },
  };
}
