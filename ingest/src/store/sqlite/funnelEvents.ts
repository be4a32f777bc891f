// Reading a site's events for the funnels, a page at a time in (ts, rowid) order: for the
// live state (main thread) and for back-fills and previews (historyWorker.ts).
import type Database from 'better-sqlite3';
import type { PropValue } from '../../event.js';
import type { LiveInput } from '../../funnel/liveUnits.js';

/** The columns of SQL.funnelEventPage and SQL.funnelEventsByRowid, in order. */
type RawEvent = [
  rowid: number, ts: number, name: string, path: string, props: string | null, channel: string, source: string | null,
  medium: string | null, campaign: string | null, device: string | null, browser: string | null, variant: string | null,
  landing: string, revenue_amount: number | null, revenue_currency: string | null, engaged_ms: number | null,
  scroll: number | null, session: string, visitor: string, lead: string | null,
];

function liveInputOf(r: RawEvent): LiveInput {
  return {
    arrival: r[0], ts: r[1], name: r[2], path: r[3], props: r[4] === null ? null : (JSON.parse(r[4]) as Record<string, PropValue>),
    channel: r[5], source: r[6], medium: r[7], campaign: r[8], device: r[9], browser: r[10], variant: r[11], landing: r[12],
    revenue_amount: r[13], revenue_currency: r[14], engaged_ms: r[15], scroll: r[16], session: r[17], visitor: r[18], lead: r[19],
  };
}

/** Events by rowid, in any order. */
export function funnelEventsByRowid(statement: Database.Statement, rowids: readonly number[]): LiveInput[] {
  return (statement.raw(true).all(JSON.stringify(rowids)) as RawEvent[]).map(liveInputOf);
}

/**
 * Raw rows (rowid and ts first) of a site's events with fromMs ≤ ts < toMs and rowid ≤
 * arrivalBound, in (ts, rowid) order, a page at a time (each read in its own short transaction).
 */
function* pages<R extends [number, number, ...unknown[]]>(
  page: Database.Statement, site: string, fromMs: number, toMs: number, arrivalBound: number, pageSize: number,
): Generator<R[]> {
  let afterTs = fromMs - 1;
  let afterRowid = 0;
  let from = fromMs;
  for (;;) {
    const rows = page.raw(true).all(site, from, afterTs, afterRowid, toMs, arrivalBound, pageSize) as R[];
    if (rows.length === 0) return;
    const last = rows[rows.length - 1];
    afterTs = last[1];
    afterRowid = last[0];
    from = afterTs;
    yield rows;
    if (rows.length < pageSize) return;
  }
}

/** A site's events after a rowid, in order of arrival (SQL.funnelEventsAfter), in pages. */
export function* funnelEventsAfter(
  statement: Database.Statement, site: string, afterRowid: number, upToRowid: number, pageSize = 5_000,
): Generator<LiveInput[]> {
  let after = afterRowid;
  for (;;) {
    const rows = statement.raw(true).all(after, upToRowid, site, pageSize) as RawEvent[];
    if (rows.length === 0) return;
    after = rows[rows.length - 1][0];
    yield rows.map(liveInputOf);
    if (rows.length < pageSize) return;
  }
}

/** A site's events for the funnels (SQL.funnelEventPage), in pages. */
export function* funnelEventPages(
  page: Database.Statement, site: string, fromMs: number, toMs: number, arrivalBound: number, pageSize = 5_000,
): Generator<LiveInput[]> {
  for (const rows of pages<RawEvent>(page, site, fromMs, toMs, arrivalBound, pageSize)) yield rows.map(liveInputOf);
}

/** Their keys alone (SQL.funnelKeyPage): ts, arrival (rowid) and visitor. */
export function* funnelKeyPages(
  page: Database.Statement, site: string, fromMs: number, toMs: number, arrivalBound: number, pageSize = 20_000,
): Generator<[number, number, string][]> {
  for (const rows of pages<[number, number, string]>(page, site, fromMs, toMs, arrivalBound, pageSize)) {
    yield rows.map(([rowid, ts, visitor]) => [ts, rowid, visitor]);
  }
}
