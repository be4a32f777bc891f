// What the marketer picked, kept for the browser session so a reload shows the same view.
import type { BreakdownDimension, DateRange, Funnel, LeadSort, LeadStage, Me, Permission, SalesBreakdown, Site } from './api.js';
import { utcDate } from './format.js';

export type RangePreset = 'today' | '7d' | '30d' | '90d' | 'custom';
export type View = 'report' | 'editor' | 'leads' | 'settings' | 'admin';

export interface State {
  /** Who is signed in, and what they may do. */
  me: Me | null;
  sites: Site[];
  site: string;
  funnels: Funnel[];
  funnelId: string;
  preset: RangePreset;
  custom: DateRange;
  breakdown: BreakdownDimension | '';
  view: View;
  /** The step whose leavers and sources are shown, by index. */
  step: number | null;
  /** The funnel the editor opens (null: a new one). */
  editing: string | null;
  /** The Leads view: the sales funnel's breakdown, the list's stage filter, order and page. */
  salesBreakdown: SalesBreakdown | '';
  leadStage: LeadStage | '';
  leadSort: LeadSort;
  leadOffset: number;
  /** The lead whose timeline is shown. */
  lead: string | null;
}

const KEY = 'funnelbeam.view';
const KEPT = ['site', 'funnelId', 'preset', 'custom', 'breakdown', 'view', 'salesBreakdown', 'leadStage', 'leadSort'] as const;

export const RANGE_PRESETS: [RangePreset, string][] = [
  ['today', 'Today'],
  ['7d', 'Last 7 days'],
  ['30d', 'Last 30 days'],
  ['90d', 'Last 90 days'],
  ['custom', 'Custom range'],
];

export const BREAKDOWNS: [BreakdownDimension | '', string][] = [
  ['', 'No breakdown'],
  ['channel', 'Channel'],
  ['source', 'Source'],
  ['device', 'Device'],
  ['browser', 'Browser'],
  ['variant', 'A/B variant'],
  ['landing', 'Landing page'],
];

export const SALES_BREAKDOWNS: [SalesBreakdown | '', string][] = [
  ['', 'No breakdown'],
  ['channel', 'Entry channel'],
  ['campaign', 'Campaign'],
];

export const LEAD_SORTS: [LeadSort, string][] = [
  ['last_seen', 'Last seen'],
  ['score', 'Score'],
  ['created', 'Newest'],
];

/** `kept`: the view kept for the tab; a shared link starts afresh. */
export function initialState(kept = true): State {
  const state: State = {
    me: null,
    sites: [],
    site: '',
    funnels: [],
    funnelId: '',
    preset: '30d',
    custom: { from: utcDate(-6), to: utcDate() },
    breakdown: '',
    view: 'report',
    step: null,
    editing: null,
    salesBreakdown: '',
    leadStage: '',
    leadSort: 'last_seen',
    leadOffset: 0,
    lead: null,
  };
  try {
    if (kept) Object.assign(state, pick(JSON.parse(sessionStorage.getItem(KEY) ?? '{}') as Partial<State>));
  } catch {
    // A view that does not parse is forgotten.
  }
  return state;
}

export function saveState(state: State): void {
  sessionStorage.setItem(KEY, JSON.stringify(pick(state)));
}

function pick(source: Partial<State>): Partial<State> {
  const kept: Record<string, unknown> = {};
  for (const key of KEPT) if (source[key] !== undefined) kept[key] = source[key];
  return kept as Partial<State>;
}

export const can = (state: State, permission: Permission): boolean => state.me?.permissions.includes(permission) ?? false;

/** The view each one needs: a principal is never shown a view whose every control would be refused. */
export const VIEW_PERMISSION: Record<View, Permission> = {
  report: 'reports:read',
  leads: 'reports:read',
  editor: 'funnels:write',
  settings: 'admin',
  admin: 'admin',
};

/** The UTC days a preset covers, today included. */
export function rangeOf(state: Pick<State, 'preset' | 'custom'>): DateRange {
  const days = { today: 1, '7d': 7, '30d': 30, '90d': 90 } as const;
  if (state.preset === 'custom') return state.custom;
  return { from: utcDate(1 - days[state.preset]), to: utcDate() };
}
