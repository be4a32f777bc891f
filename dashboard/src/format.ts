// Numbers as a marketer reads them, in the browser's locale.
import type { LeadStage } from './api.js';

export const STAGE_NAMES: Record<LeadStage, string> = { lead: 'Lead', mql: 'MQL', sal: 'SAL', sql: 'SQL', won: 'Won', lost: 'Lost' };

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const percent = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });
const wholePercent = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 0 });

const signedPercent = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 0, signDisplay: 'exceptZero' });
const signedDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1, signDisplay: 'exceptZero' });
const oneDecimal = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const twoDigits = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 2 });

export const count = (n: number): string => integer.format(n);
/** A relative change in whole percent, with its sign: +12 %, −4 %. */
export const signedPct = (ratio: number): string => signedPercent.format(ratio);
/** A change of a rate in percentage points (a rate's relative change would read as its level). */
export const points = (diff: number): string => `${signedDecimal.format(diff * 100)} pts`;
/** How many times another: 2.5×. */
export const times = (ratio: number): string => `${oneDecimal.format(ratio)}×`;
/** A p-value: two significant digits, and a floor below which the digits say nothing more. */
export const pValue = (p: number): string => (p < 0.0001 ? `< ${twoDigits.format(0.0001)}` : twoDigits.format(p));
export const pct = (ratio: number): string => percent.format(ratio);
/** How far a computation is, in whole percent rounded down: 100 % only once it is done. */
export const progressPct = (done: number): string => wholePercent.format(Math.floor(done * 100) / 100);
/** A ratio that may be undefined (nobody to divide by): a dash. */
export const pctOrDash = (ratio: number | null): string => (ratio === null ? '–' : percent.format(ratio));
/** A lead's score: decayed, so it may have a fraction. */
export const score = (n: number): string => decimal.format(n);

/** An ISO time as 'YYYY-MM-DD HH:MM' in UTC, like the reports' days; `seconds` adds them. */
export const utcTime = (iso: string, seconds = false): string => iso.slice(0, seconds ? 19 : 16).replace('T', ' ');

export function duration(ms: number | null | undefined): string {
  if (ms == null) return '–';
  const s = ms / 1000;
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${round1(s / 60)} min`;
  if (s < 86_400) return `${round1(s / 3600)} h`;
  return `${round1(s / 86_400)} d`;
}

const SPAN_UNITS: [ms: number, one: string, many: string][] = [[86_400_000, 'day', 'days'], [3_600_000, 'h', 'h'], [60_000, 'min', 'min'], [1000, 's', 's']];

/** A span between two whole durations, each end in its largest whole unit: 0–1 min, 15 min–1 h, 1–3 days. */
export function timeSpan(fromMs: number, toMs: number): string {
  const unitOf = (ms: number) => SPAN_UNITS.find(([unit]) => ms >= unit && ms % unit === 0) ?? SPAN_UNITS[3];
  const [toUnit, one, many] = unitOf(toMs);
  const to = `${Math.round(toMs / toUnit)} ${toMs === toUnit ? one : many}`;
  const fromUnit = unitOf(fromMs || toMs);
  const from = Math.round(fromMs / fromUnit[0]);
  return fromUnit[0] === toUnit ? `${from}–${to}` : `${from} ${from === 1 ? fromUnit[1] : fromUnit[2]}–${to}`;
}

/** How long ago, in whole units: 12 s, 3 min, 2 h, 4 d. */
export function ago(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : s < 86_400 ? `${Math.floor(s / 3600)} h` : `${Math.floor(s / 86_400)} d`;
}

const round1 = (n: number): string => (n < 10 ? n.toFixed(1).replace(/\.0$/, '') : String(Math.round(n)));

export function money(amount: number, currency: string): string {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(amount);
  } catch {
    return `${amount} ${currency}`;
  }
}

/** 'YYYY-MM-DD' of a UTC day, `offset` days from today: reports count days in UTC. */
export function utcDate(offsetDays = 0, now = Date.now()): string {
  return new Date(now + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

export const label = (value: string | null | undefined, none = '(none)'): string => (value == null || value === '' ? none : value);

/** A stored path as people read it: percent-escapes decoded (shown as text, so it stays inert). */
export function displayPath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
