// The management API: with the owner token (or an API key) kept for this browser tab and sent as a
// bearer header (never in the URL), or with the session cookie that signing in with an e-mail set.
import type { FunnelDefinition } from '../../ingest/src/funnel/definition.js';
import type { BreakdownDimension, FunnelReport } from '../../ingest/src/funnel/report.js';
import type { LeadEntry } from '../../ingest/src/leads/lead.js';
import type { SalesBreakdown, SalesFunnelReport } from '../../ingest/src/leads/report.js';
import type { LeadStage } from '../../ingest/src/leads/stages.js';
import type { VariantRow } from '../../ingest/src/funnel/variants.js';
import type { SavedFunnelReport } from '../../ingest/src/store/types.js';
import type { Factor, FactorKind, PeopleStatus } from '../../ingest/src/funnel/people.js';

export type { FunnelReport, FunnelDefinition, BreakdownDimension, SavedFunnelReport, VariantRow };
export type { StepReport, BreakdownReport, TrendPoint, SourceReport } from '../../ingest/src/funnel/report.js';
export type { StepDefinition, FunnelOrder, ExclusionDefinition } from '../../ingest/src/funnel/definition.js';
export { MIN_ARM_ENTRIES } from '../../ingest/src/funnel/variants.js';
export type { SalesFunnelReport, SalesBreakdown, LeadStage, LeadEntry };
export type { SalesStageReport, SalesBreakdownRow } from '../../ingest/src/leads/report.js';
export { FUNNEL_STAGES, STAGES } from '../../ingest/src/leads/stages.js';
export { DEFAULT_HUBSPOT_STAGES } from '../../ingest/src/crm/config.js';

/**
 * A saved funnel's report as the dashboard asks for it (`compare=previous`): with the report of
 * the range of equal length just before, and with `breakdown=variant` each variant against the
 * control. `excluded`: entries taken out by the funnel's exclusions (a collector older than the
 * field sends none).
 */
export type ComparedReport = SavedFunnelReport & {
  excluded?: number;
  previous?: SavedFunnelReport;
  variants?: VariantRow[];
};

export interface Site {
  domain: string;
  origins: string[];
  allowed_params: string[];
  created_at: string;
}

export interface Funnel extends FunnelDefinition {
  id: string;
  created_at: string;
  updated_at: string;
}

/** A lead as `GET /api/sites/:site/leads` lists it (ingest/src/routes/leads.ts). */
export interface Lead {
  lead: string;
  stage: LeadStage;
  stage_at: string;
  waiting_ms: number | null;
  score: number;
  created_at: string;
  first_seen: string;
  last_seen: string;
  source: LeadEntry;
  won: { amount: number | null; currency: string | null } | null;
}

export interface LeadList {
  total: number;
  limit: number;
  offset: number;
  leads: Lead[];
}

export type LeadSort = 'last_seen' | 'score' | 'created';

export interface TimelineEvent {
  type: 'event';
  at: string;
  name: string;
  path: string;
  props: Record<string, string | number | boolean> | null;
  session: string;
  channel: string;
  source: string | null;
  campaign: string | null;
  term: string | null;
  revenue?: { amount: number; currency: string | null };
}

export interface TimelineStage {
  type: 'stage';
  stage: LeadStage;
  from: LeadStage | null;
  at: string;
  by: 'identify' | 'score' | 'api';
  amount?: number;
  currency?: string | null;
}

export interface LeadDetail extends Lead {
  timeline: (TimelineEvent | TimelineStage)[];
}

export interface DateRange {
  from: string;
  to: string;
}

export type { Factor, FactorKind, PeopleStatus };

/** An entry behind a step's count (GET .../funnels/:id/people); times are ISO, `unit` is `visitor:ID` or `lead:ID`. */
export interface Person {
  unit: string;
  visitor: string | null;
  lead: string | null;
  entered_at: string;
  /** 1-based. */
  furthest_step: number;
  last_seen: string;
  channel: string | null;
  source: string | null;
  campaign: string | null;
  /** The next page after its last step; null: it left the site (or went on to the end). */
  exit_path: string | null;
}

export interface PeoplePage {
  people: Person[];
  /** null at the end. */
  next_cursor: string | null;
}

/** One event of a unit's journey (GET .../visitors/:unit/events), in time order. */
export interface JourneyEvent {
  ts: string;
  name: string;
  path: string;
  channel?: string | null;
  source?: string | null;
  props?: Record<string, string | number | boolean> | null;
  variant?: string | null;
}

/** What separates the entries that went on from those that stopped (GET .../correlation): the totals, and factors most significant first. */
export interface Correlation {
  went_on: number;
  stopped: number;
  factors: Factor[];
}

/** What a principal may do (GET /api/me); each control that needs one is shown only with it. */
export type Permission = 'reports:read' | 'funnels:write' | 'leads:write' | 'export:read' | 'privacy:write' | 'admin';
export type Role = 'admin' | 'editor' | 'viewer';

/** Who is signed in. `sites` null: every site. */
export interface Me {
  email: string | null;
  role: Role | 'owner' | 'key';
  sites: string[] | null;
  permissions: Permission[];
}

export interface User {
  id: string;
  email: string;
  role: Role;
  sites: string[] | null;
  created_at: string;
}

/** What an API key may be given: every permission but `admin`. */
export const KEY_SCOPES = ['reports:read', 'funnels:write', 'leads:write', 'export:read', 'privacy:write'] as const;
export type KeyScope = (typeof KEY_SCOPES)[number];

export interface ApiKey {
  id: string;
  name: string;
  scopes: KeyScope[];
  sites: string[] | null;
  created_at: string;
  last_used_at: string | null;
}

export interface Share {
  id: string;
  funnel: string;
  has_password: boolean;
  created_at: string;
}

/** What a shared link opens (GET /api/share/:token), before or after its password. */
export interface ShareInfo {
  site: string;
  funnel: FunnelDefinition & { id: string };
  password_required: boolean;
  unlocked: boolean;
}

/** The CRMs a site can hand its leads to (ingest/src/routes/integrations.ts). */
export type Crm = 'hubspot' | 'pipedrive';

/** A connector's last outcome: a delivery, or a test. `paused`: the CRM refused the token. */
export interface CrmDelivery {
  at: string;
  outcome: 'delivered' | 'retrying' | 'failed' | 'paused';
  error: string | null;
  paused: boolean;
}

/** A connector as GET shows it: secrets masked (••••abcd), never given back. */
export interface HubSpotConnector {
  access_token: string;
  client_secret: string;
  stages: Partial<Record<LeadStage, string>>;
  last_delivery: CrmDelivery | null;
}

export interface PipedriveConnector {
  api_token: string;
  webhook_user: string;
  webhook_password: string;
  last_delivery: CrmDelivery | null;
}

export interface CrmConnector {
  hubspot: HubSpotConnector;
  pipedrive: PipedriveConnector;
}

/** What PUT takes: the whole config, secrets included. */
export interface CrmSettings {
  hubspot: { access_token: string; client_secret: string; stages?: Partial<Record<LeadStage, string>> };
  pipedrive: { api_token: string; webhook_user: string; webhook_password: string };
}

export interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  site: string | null;
  target: string | null;
}

const TOKEN_KEY = 'funnelbeam.adminToken';

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token: string): void => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field: string | null,
    /** A 503 while the collector restores its funnels after a restart: how far it is. */
    readonly warming: { done: number } | null = null,
    /** When to ask again (Retry-After), in seconds. */
    readonly retryAfter = 2,
  ) {
    super(message);
  }
}

/** The server's clock minus this browser's, from each answer's Date header (to the second). */
let clockOffset = 0;
/** The server's time now: a report's age is measured on its clock, not on a laptop's that may be off. */
export const serverNow = (): number => Date.now() + clockOffset;

let unauthorized: (hadToken: boolean) => void = () => {};
/** What to do when the credentials are refused (the token, or an ended session): back to the sign-in form. */
export function onUnauthorized(handler: (hadToken: boolean) => void): void {
  unauthorized = handler;
}

interface Init {
  method?: string;
  body?: unknown;
  /**
   * The bearer to send instead of the kept token, null for none (the cookie alone). Its 401 is
   * the caller's answer (a wrong token or password, a locked link), not an ended session.
   */
  token?: string | null;
}

/** GETs on their way, by path: a report asked for twice at once (prefetch, then the view) is fetched once. */
const inflight = new Map<string, Promise<unknown>>();

export function request<T>(path: string, init: Init = {}): Promise<T> {
  if (init.method || init.body !== undefined || init.token !== undefined) return send<T>(path, init);
  let pending = inflight.get(path) as Promise<T> | undefined;
  if (!pending) {
    pending = send<T>(path, init).finally(() => inflight.delete(path));
    inflight.set(path, pending);
  }
  return pending;
}

async function send<T>(path: string, init: Init): Promise<T> {
  const token = init.token === undefined ? session.token() : init.token;
  // No header without a token: a cookie session is then the credential.
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    cache: 'no-store',
  });
  // The header has whole seconds: half a second is added, the middle of the second it names.
  const date = Date.parse(response.headers.get('date') ?? '');
  if (date) clockOffset = date + 500 - Date.now();
  if (response.status === 204) return undefined as T;
  const data = (await response.json().catch(() => null)) as { error?: string; field?: string; warming?: { done: number } } | null;
  if (response.status === 401 && init.token === undefined) {
    session.signOut();
    unauthorized(token !== null);
    throw new ApiError(401, 'The credentials were not accepted.', 'authorization');
  }
  if (!response.ok) {
    const retryAfter = Math.max(1, Number(response.headers.get('retry-after')) || 2);
    throw new ApiError(response.status, data?.error ?? `${response.status} ${response.statusText}`, data?.field ?? null, data?.warming ?? null, retryAfter);
  }
  return data as T;
}

const site = (domain: string): string => `/api/sites/${encodeURIComponent(domain)}`;
const rangeQuery = (range: DateRange, breakdown?: string): string =>
  `from=${range.from}&to=${range.to}${breakdown ? `&breakdown=${breakdown}` : ''}`;
/** The report view's query: the summary shows the change against the range just before. */
const reportQuery = (range: DateRange, breakdown?: string): string => `${rangeQuery(range, breakdown)}&compare=previous`;

export const api = {
  sites: (token?: string) => request<Site[]>('/api/sites', { token }),
  createSite: (domain: string, origins: string[]) => request<Site>('/api/sites', { body: { domain, origins } }),
  updateSite: (domain: string, patch: { origins?: string[]; allowed_params?: string[] }) =>
    request<Site>(site(domain), { method: 'PATCH', body: patch }),
  funnels: (domain: string) => request<Funnel[]>(`${site(domain)}/funnels`),
  saveFunnel: (domain: string, id: string, definition: FunnelDefinition) =>
    request<Funnel>(`${site(domain)}/funnels/${encodeURIComponent(id)}`, { method: 'PUT', body: definition }),
  deleteFunnel: (domain: string, id: string) =>
    request<void>(`${site(domain)}/funnels/${encodeURIComponent(id)}`, { method: 'DELETE' }),
  report: (domain: string, id: string, range: DateRange, breakdown?: BreakdownDimension | '') =>
    request<ComparedReport>(`${site(domain)}/funnels/${encodeURIComponent(id)}/report?${reportQuery(range, breakdown)}`),
  salesFunnel: (domain: string, range: DateRange, breakdown?: SalesBreakdown | '') =>
    request<SalesFunnelReport>(`${site(domain)}/sales-funnel?${rangeQuery(range, breakdown)}`),
  leads: (domain: string, query: { stage?: LeadStage | ''; sort: LeadSort; limit: number; offset: number }) =>
    request<LeadList>(`${site(domain)}/leads?sort=${query.sort}&limit=${query.limit}&offset=${query.offset}${query.stage ? `&stage=${query.stage}` : ''}`),
  lead: (domain: string, id: string) => request<LeadDetail>(`${site(domain)}/leads/${encodeURIComponent(id)}`),
  /** `step` (1-based) may be left out for `converted`; `cursor`: the last page's `next_cursor`. */
  people: (domain: string, id: string, range: DateRange, query: { step: number | null; status: PeopleStatus; limit: number; cursor: string | null }) =>
    request<PeoplePage>(`${site(domain)}/funnels/${encodeURIComponent(id)}/people?${rangeQuery(range)}&status=${query.status}&limit=${query.limit}`
      + `${query.step === null ? '' : `&step=${query.step}`}${query.cursor ? `&cursor=${encodeURIComponent(query.cursor)}` : ''}`),
  journey: (domain: string, unit: string, limit: number) =>
    request<{ events: JourneyEvent[] }>(`${site(domain)}/visitors/${encodeURIComponent(unit)}/events?limit=${limit}`),
  /** `step` (1-based): who went on from it; null: who converted. */
  correlation: (domain: string, id: string, range: DateRange, step: number | null) =>
    request<Correlation>(`${site(domain)}/funnels/${encodeURIComponent(id)}/correlation?${rangeQuery(range)}${step === null ? '' : `&step=${step}`}`),
  preview: (domain: string, definition: FunnelDefinition, range: DateRange) =>
    request<FunnelReport & { excluded?: number }>(`${site(domain)}/funnels/preview?${rangeQuery(range)}`, { body: definition }),

  /** `token`: the one being tried at sign-in, or null for the cookie alone. */
  me: (token?: string | null) => request<Me>('/api/me', { token }),
  login: (email: string, password: string) => request<void>('/api/login', { body: { email, password }, token: null }),
  logout: () => request<void>('/api/logout', { method: 'POST', token: null }),

  users: () => request<User[]>('/api/users'),
  createUser: (user: { email: string; password: string; role: Role; sites?: string[] }) => request<User>('/api/users', { body: user }),
  /** A new `password` ends the user's sessions; `sites` null: every site. */
  updateUser: (id: string, patch: { role?: Role; sites?: string[] | null; password?: string }) =>
    request<User>(`/api/users/${encodeURIComponent(id)}`, { method: 'PATCH', body: patch }),
  deleteUser: (id: string) => request<void>(`/api/users/${encodeURIComponent(id)}`, { method: 'DELETE' }),
  keys: () => request<ApiKey[]>('/api/keys'),
  createKey: (key: { name: string; scopes: KeyScope[]; sites?: string[] }) => request<ApiKey & { key: string }>('/api/keys', { body: key }),
  deleteKey: (id: string) => request<void>(`/api/keys/${encodeURIComponent(id)}`, { method: 'DELETE' }),
  shares: (domain: string) => request<Share[]>(`${site(domain)}/shares`),
  createShare: (domain: string, share: { funnel: string; password?: string }) => request<Share & { url: string }>(`${site(domain)}/shares`, { body: share }),
  deleteShare: (domain: string, id: string) => request<void>(`${site(domain)}/shares/${encodeURIComponent(id)}`, { method: 'DELETE' }),
  /** 404 (an ApiError) when the site has no such connector. */
  connector: <C extends Crm>(domain: string, crm: C) => request<CrmConnector[C]>(`${site(domain)}/integrations/${crm}`),
  saveConnector: <C extends Crm>(domain: string, crm: C, settings: CrmSettings[C]) =>
    request<CrmConnector[C]>(`${site(domain)}/integrations/${crm}`, { method: 'PUT', body: settings }),
  deleteConnector: (domain: string, crm: Crm) => request<void>(`${site(domain)}/integrations/${crm}`, { method: 'DELETE' }),
  testConnector: <C extends Crm>(domain: string, crm: C) => request<CrmConnector[C]>(`${site(domain)}/integrations/${crm}/test`, { body: {} }),
  audit: (before?: number) => request<{ entries: AuditEntry[]; next_before: number | null }>(`/api/audit?limit=100${before ? `&before=${before}` : ''}`),
};

/** A shared link's funnel, without sign-in: only its own cookie (set by the password) goes along. */
const share = (token: string): string => `/api/share/${encodeURIComponent(token)}`;
export const shareApi = {
  info: (token: string) => request<ShareInfo>(share(token), { token: null }),
  unlock: (token: string, password: string) => request<void>(`${share(token)}/unlock`, { body: { password }, token: null }),
  report: (token: string, range: DateRange, breakdown?: BreakdownDimension | '') =>
    request<ComparedReport>(`${share(token)}/report?${reportQuery(range, breakdown)}`, { token: null }),
};
