// The management API, with the admin token of this browser session (never in the URL).
import type { FunnelDefinition } from '../../ingest/src/funnel/definition.js';
import type { BreakdownDimension, FunnelReport } from '../../ingest/src/funnel/report.js';
import type { LeadEntry } from '../../ingest/src/leads/lead.js';
import type { SalesBreakdown, SalesFunnelReport } from '../../ingest/src/leads/report.js';
import type { LeadStage } from '../../ingest/src/leads/stages.js';
import type { SavedFunnelReport } from '../../ingest/src/store/types.js';

export type { FunnelReport, FunnelDefinition, BreakdownDimension, SavedFunnelReport };
export type { StepReport, BreakdownReport, TrendPoint, SourceReport } from '../../ingest/src/funnel/report.js';
export type { StepDefinition } from '../../ingest/src/funnel/definition.js';
export type { SalesFunnelReport, SalesBreakdown, LeadStage, LeadEntry };
export type { SalesStageReport, SalesBreakdownRow } from '../../ingest/src/leads/report.js';
export { FUNNEL_STAGES, STAGES } from '../../ingest/src/leads/stages.js';

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

let unauthorized: () => void = () => {};
/** What to do when the token is refused: back to the sign-in form. */
export function onUnauthorized(handler: () => void): void {
  unauthorized = handler;
}

/** GETs on their way, by path: a report asked for twice at once (prefetch, then the view) is fetched once. */
const inflight = new Map<string, Promise<unknown>>();

export function request<T>(path: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<T> {
  if (init.method || init.body !== undefined || init.token) return send<T>(path, init);
  let pending = inflight.get(path) as Promise<T> | undefined;
  if (!pending) {
    pending = send<T>(path, init).finally(() => inflight.delete(path));
    inflight.set(path, pending);
  }
  return pending;
}

async function send<T>(path: string, init: { method?: string; body?: unknown; token?: string }): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${init.token ?? session.token() ?? ''}` };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    cache: 'no-store',
  });
  if (response.status === 401) {
    session.signOut();
    if (!init.token) unauthorized();
    throw new ApiError(401, 'The admin token was not accepted.', 'authorization');
  }
  // The header has whole seconds: half a second is added, the middle of the second it names.
  const date = Date.parse(response.headers.get('date') ?? '');
  if (date) clockOffset = date + 500 - Date.now();
  if (response.status === 204) return undefined as T;
  const data = (await response.json().catch(() => null)) as { error?: string; field?: string; warming?: { done: number } } | null;
  if (!response.ok) {
    const retryAfter = Math.min(60, Math.max(1, Number(response.headers.get('retry-after')) || 2));
    throw new ApiError(response.status, data?.error ?? `${response.status} ${response.statusText}`, data?.field ?? null, data?.warming ?? null, retryAfter);
  }
  return data as T;
}

const site = (domain: string): string => `/api/sites/${encodeURIComponent(domain)}`;
const rangeQuery = (range: DateRange, breakdown?: string): string =>
  `from=${range.from}&to=${range.to}${breakdown ? `&breakdown=${breakdown}` : ''}`;

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
    request<SavedFunnelReport>(`${site(domain)}/funnels/${encodeURIComponent(id)}/report?${rangeQuery(range, breakdown)}`),
  salesFunnel: (domain: string, range: DateRange, breakdown?: SalesBreakdown | '') =>
    request<SalesFunnelReport>(`${site(domain)}/sales-funnel?${rangeQuery(range, breakdown)}`),
  leads: (domain: string, query: { stage?: LeadStage | ''; sort: LeadSort; limit: number; offset: number }) =>
    request<LeadList>(`${site(domain)}/leads?sort=${query.sort}&limit=${query.limit}&offset=${query.offset}${query.stage ? `&stage=${query.stage}` : ''}`),
  lead: (domain: string, id: string) => request<LeadDetail>(`${site(domain)}/leads/${encodeURIComponent(id)}`),
  preview: (domain: string, definition: FunnelDefinition, range: DateRange) =>
    request<FunnelReport>(`${site(domain)}/funnels/preview?${rangeQuery(range)}`, { body: definition }),
};
