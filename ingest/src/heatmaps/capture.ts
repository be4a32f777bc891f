// Heatmaps (CONTRACT.md, "Heatmaps"): the click and scroll data an `engagement` event carries
// from the capture file (snippet/src/heatmaps.ts), checked field by field, and what one such
// chunk adds to the per-day aggregates. Pure: both stores and the report use it.
import type { Row } from '../store/rows.js';
import { compilePathPattern } from '../funnel/definition.js';

export const HEATMAP_DEVICES = ['desktop', 'tablet', 'mobile'] as const;
export type HeatmapDevice = (typeof HEATMAP_DEVICES)[number];

/** More clicks than this in one chunk is not a person clicking: the list is dropped whole. */
export const MAX_CLICKS = 200;
export const MAX_SELECTOR_LENGTH = 256;

/** One click: the element's selector, the offset inside its box (0..1 each way), part of a rage burst. */
export interface HeatmapClick {
  selector: string;
  x: number;
  y: number;
  rage: boolean;
}

/**
 * What one engagement event of a heatmapped page brings: the clicks since the page's previous
 * chunk, the device class of its viewport, and the deepest scroll (%) reported before (null on
 * the pageview's first chunk, which counts the pageview). The deepest scroll now is the event's `scroll`.
 */
export interface HeatmapChunk {
  device: HeatmapDevice;
  clicks: HeatmapClick[];
  seen: number | null;
}

/** The layout a click landed on follows the viewport's width, not the User-Agent. */
export function deviceOfViewport(width: number): HeatmapDevice {
  return width < 768 ? 'mobile' : width < 1024 ? 'tablet' : 'desktop';
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isUnit = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 1;
// A selector is ids, data attributes and tag names the capture built: printable, no control characters.
const SELECTOR = /^[^\u0000-\u001f\u007f]+$/;

function parseClick(value: unknown): HeatmapClick | null {
  if (!isRecord(value)) return null;
  const { selector, x, y, rage } = value;
  if (typeof selector !== 'string' || selector.length === 0 || selector.length > MAX_SELECTOR_LENGTH || !SELECTOR.test(selector)) return null;
  if (!isUnit(x) || !isUnit(y)) return null;
  return { selector, x, y, rage: rage === true };
}

/**
 * Takes the `heatmap` field off a wire event (before the event's own schema sees it) and
 * returns what of it holds: a bad click is dropped alone, a bad or oversized list as a whole,
 * a bad viewport drops the chunk. Never refuses the event: the rest of it is kept as sent.
 */
export function takeHeatmap(event: Record<string, unknown>): HeatmapChunk | undefined {
  const raw = event.heatmap;
  // The hot path: an event without the field is not touched (a delete would reshape it).
  if (raw === undefined) return undefined;
  delete event.heatmap;
  if (!isRecord(raw)) return undefined;
  const { viewport, clicks, seen } = raw;
  if (typeof viewport !== 'number' || !Number.isInteger(viewport) || viewport < 1 || viewport > 100_000) return undefined;
  const list = Array.isArray(clicks) && clicks.length <= MAX_CLICKS ? clicks : [];
  const kept: HeatmapClick[] = [];
  for (const item of list) {
    const click = parseClick(item);
    if (click) kept.push(click);
  }
  const seenOk = typeof seen === 'number' && Number.isFinite(seen) && seen >= 0 && seen <= 100;
  return { device: deviceOfViewport(viewport), clicks: kept, seen: seenOk ? Math.round(seen) : null };
}

/** A selector's clicks summed: the mean offset is sum / count. */
export interface ClickTotals {
  selector: string;
  count: number;
  sumX: number;
  sumY: number;
  rage: number;
}

/**
 * The scroll depths (0, 10, ..., 100) a chunk adds one pageview to: depth 0 is the pageview
 * itself (first chunk only), then every 10% passed since the depth the page reported before.
 */
export function depthsReached(scroll: number | null, seen: number | null): number[] {
  const depths: number[] = seen === null ? [0] : [];
  const from = seen === null ? 0 : Math.floor(seen / 10);
  const to = Math.floor(Math.min(100, Math.max(0, scroll ?? 0)) / 10);
  for (let k = from + 1; k <= to; k++) depths.push(k * 10);
  return depths;
}

/** A chunk's clicks per selector. */
export function clickTotals(clicks: readonly HeatmapClick[]): ClickTotals[] {
  const bySelector = new Map<string, ClickTotals>();
  for (const c of clicks) {
    let totals = bySelector.get(c.selector);
    if (!totals) bySelector.set(c.selector, (totals = { selector: c.selector, count: 0, sumX: 0, sumY: 0, rage: 0 }));
    totals.count++;
    totals.sumX += c.x;
    totals.sumY += c.y;
    if (c.rage) totals.rage++;
  }
  return [...bySelector.values()];
}

/** The API's answer (CONTRACT.md, "Heatmaps"); `rage` counts the clicks of rage bursts. */
export interface Heatmap {
  pageviews: number;
  clicks: { selector: string; x: number; y: number; count: number; rage: number }[];
  /** Pageviews that reached each 10% of the page. */
  scroll: { depth: number; visitors: number }[];
  /** The most viewed page matching the pattern (where the overlay opens); not in the API's answer. */
  topPath?: string | null;
}

/** Most selectors listed in one answer, by count. */
export const MAX_LISTED_SELECTORS = 500;

/** Totals read back from a store (summed per selector and depth) into the answer. */
export function heatmapOf(clicks: Iterable<ClickTotals>, depths: ReadonlyMap<number, number>, topPath: string | null = null): Heatmap {
  const round = (value: number) => Math.round(value * 1000) / 1000;
  const listed = [...clicks]
    .filter((c) => c.count > 0)
    .sort((a, b) => b.count - a.count || (a.selector < b.selector ? -1 : 1))
    .slice(0, MAX_LISTED_SELECTORS)
    .map((c) => ({ selector: c.selector, x: round(c.sumX / c.count), y: round(c.sumY / c.count), count: c.count, rage: c.rage }));
  const scroll = [];
  for (let depth = 10; depth <= 100; depth += 10) scroll.push({ depth, visitors: depths.get(depth) ?? 0 });
  return { pageviews: depths.get(0) ?? 0, clicks: listed, scroll, topPath };
}

/**
 * The answer from the rows a store read of the day sums (clicks per path and selector, pageviews
 * per path and depth, depth 0 being the pageviews): summed over the paths the pattern matches.
 */
export function heatmapFromSums(clickRows: Iterable<Row>, scrollRows: Iterable<Row>, matches: (path: string) => boolean): Heatmap {
  const clicks = new Map<string, ClickTotals>();
  for (const row of clickRows) {
    if (!matches(String(row.path))) continue;
    const selector = String(row.selector);
    const totals = clicks.get(selector) ?? { selector, count: 0, sumX: 0, sumY: 0, rage: 0 };
    totals.count += Number(row.count);
    totals.sumX += Number(row.sum_x);
    totals.sumY += Number(row.sum_y);
    totals.rage += Number(row.rage);
    clicks.set(selector, totals);
  }
  const depths = new Map<number, number>();
  const pageviews = new Map<string, number>();
  for (const row of scrollRows) {
    if (!matches(String(row.path))) continue;
    const depth = Number(row.depth);
    depths.set(depth, (depths.get(depth) ?? 0) + Number(row.views));
    if (depth === 0) pageviews.set(String(row.path), (pageviews.get(String(row.path)) ?? 0) + Number(row.views));
  }
  return heatmapOf(clicks.values(), depths, mostViewed(pageviews));
}

/** The key with the highest count (ties: the first in order), or null. */
export function mostViewed(counts: ReadonlyMap<string, number>): string | null {
  let best: string | null = null;
  for (const [key, n] of counts) if (best === null || n > counts.get(best)! || (n === counts.get(best)! && key < best)) best = key;
  return best;
}

/** Adds one chunk's totals into running ones (the funnel split sums chunks as a store sums rows). */
export function addChunk(
  clicks: Map<string, ClickTotals>, depths: Map<number, number>, chunk: { clicks: readonly HeatmapClick[]; seen: number | null; scroll: number | null },
): void {
  for (const t of clickTotals(chunk.clicks)) {
    const totals = clicks.get(t.selector);
    if (!totals) clicks.set(t.selector, t);
    else {
      totals.count += t.count;
      totals.sumX += t.sumX;
      totals.sumY += t.sumY;
      totals.rage += t.rage;
    }
  }
  for (const depth of depthsReached(chunk.scroll, chunk.seen)) depths.set(depth, (depths.get(depth) ?? 0) + 1);
}

/**
 * A path pattern (`/deals/*`) as a store can narrow it with an index: the paths between `from`
 * (inclusive) and `to` (exclusive), then `matches` for the rest of the pattern.
 */
export function pathFilter(pattern: string): { from: string; to: string; matches: (path: string) => boolean } {
  const star = pattern.indexOf('*');
  const prefix = star === -1 ? pattern : pattern.slice(0, star);
  const regex = compilePathPattern(pattern);
  return { from: prefix, to: `${prefix}\u{10ffff}`, matches: (path) => regex.test(path) };
}

/** Who to count in a funnel split: each unit's pageviews in its entry's span. */
export interface HeatmapPerson {
  visitor: string | null;
  lead: string | null;
  fromMs: number;
  toMs: number;
}

/** One stored chunk as the split reads it back. */
export interface HeatmapViewRow {
  ts: number;
  visitor: string;
  lead: string | null;
  path: string;
  device: HeatmapDevice;
  seen: number | null;
  scroll: number | null;
  clicks: HeatmapClick[];
}

/** The heatmap of the chunks that belong to the people given (a visitor's or lead's, inside its span). */
export function heatmapOfPeople(rows: Iterable<HeatmapViewRow>, people: readonly HeatmapPerson[], matches: (path: string) => boolean): Heatmap {
  const spans = new Map<string, { fromMs: number; toMs: number }[]>();
  const add = (key: string, span: { fromMs: number; toMs: number }) => {
    const list = spans.get(key);
    if (list) list.push(span);
    else spans.set(key, [span]);
  };
  for (const p of people) {
    if (p.lead !== null) add(`l\n${p.lead}`, p);
    if (p.visitor !== null) add(`v\n${p.visitor}`, p);
  }
  const inSpan = (key: string, ts: number) => spans.get(key)?.some((s) => ts >= s.fromMs && ts < s.toMs) ?? false;
  const clicks = new Map<string, ClickTotals>();
  const depths = new Map<number, number>();
  for (const row of rows) {
    if (!matches(row.path)) continue;
    if (!inSpan(`v\n${row.visitor}`, row.ts) && !(row.lead !== null && inSpan(`l\n${row.lead}`, row.ts))) continue;
    addChunk(clicks, depths, row);
  }
  return heatmapOf(clicks.values(), depths);
}

/** Clicks as a stored chunk keeps them: `[selector, x, y, rage]`, compact. */
export function encodeClicks(clicks: readonly HeatmapClick[]): string {
  return JSON.stringify(clicks.map((c) => [c.selector, c.x, c.y, c.rage ? 1 : 0]));
}

export function decodeClicks(text: string): HeatmapClick[] {
  return (JSON.parse(text) as [string, number, number, number][]).map(([selector, x, y, rage]) => ({ selector, x, y, rage: rage === 1 }));
}
