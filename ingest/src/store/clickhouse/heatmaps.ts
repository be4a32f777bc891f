// Heatmaps on ClickHouse: each chunk adds rows to the summing aggregates and a view row. There
// is no transaction with the events: a retried event whose first copy was stored counts its
// clicks twice here (the events themselves are de-duplicated at read time).
import type { StoredEvent } from '../../event.js';
import type { HeatmapQuery } from '../types.js';
import type { Row } from '../rows.js';
import type { ClickHouseIo } from './funnels.js';
import * as SQL from './sql.js';
import {
  clickTotals, decodeClicks, depthsReached, encodeClicks, heatmapFromSums, heatmapOfPeople, pathFilter,
  type Heatmap, type HeatmapDevice, type HeatmapPerson, type HeatmapViewRow,
} from '../../heatmaps/capture.js';
import { utcDay } from '../../time.js';

const nullable = (value: unknown) => (value === null ? null : Number(value));

export class ClickHouseHeatmaps {
  constructor(private readonly io: ClickHouseIo) {}

  /** After the events are in: the chunks of those that carry one. */
  async write(events: readonly StoredEvent[]): Promise<void> {
    const clicks: Row[] = [];
    const scroll: Row[] = [];
    const views: Row[] = [];
    for (const event of events) {
      const chunk = event.heatmap;
      if (!chunk) continue;
      const where = { site: event.site, path: event.path, device: chunk.device, day: utcDay(event.ts) };
      for (const t of clickTotals(chunk.clicks)) clicks.push({ ...where, selector: t.selector, count: t.count, sum_x: t.sumX, sum_y: t.sumY, rage: t.rage });
      for (const depth of depthsReached(event.scroll, chunk.seen)) scroll.push({ ...where, depth, views: 1 });
      views.push({
        site: event.site, ts: event.ts, visitor: event.visitor, lead: event.lead, path: event.path, device: chunk.device,
        seen: chunk.seen, scroll: event.scroll, clicks: encodeClicks(chunk.clicks),
      });
    }
    if (views.length === 0) return;
    await Promise.all([
      clicks.length > 0 ? this.io.insert('heatmap_clicks', clicks) : undefined,
      this.io.insert('heatmap_scroll', scroll),
      this.io.insert('heatmap_views', views),
    ]);
  }

  async heatmap(site: string, query: HeatmapQuery): Promise<Heatmap> {
    const filter = pathFilter(query.path);
    const fromDay = utcDay(query.range.fromMs);
    const toDay = utcDay(query.range.toMs - 1);
    const [clickRows, scrollRows] = await Promise.all([
      this.io.rows(SQL.heatmapClicks(site, filter, query.device, fromDay, toDay)),
      this.io.rows(SQL.heatmapScroll(site, filter, query.device, fromDay, toDay)),
    ]);
    return heatmapFromSums(clickRows, scrollRows, filter.matches);
  }

  async heatmapOfPeople(site: string, query: HeatmapQuery, people: readonly HeatmapPerson[]): Promise<Heatmap> {
    const filter = pathFilter(query.path);
    if (people.length === 0) return heatmapOfPeople([], people, filter.matches);
    const fromMs = people.reduce((min, p) => Math.min(min, p.fromMs), Infinity);
    const toMs = people.reduce((max, p) => Math.max(max, p.toMs), -Infinity);
    const rows: HeatmapViewRow[] = [];
    for await (const block of this.io.stream(SQL.heatmapViews(site, filter, query.device, fromMs, toMs))) {
      for (const row of block) {
        rows.push({
          ts: Number(row.ts), visitor: String(row.visitor), lead: row.lead === null ? null : String(row.lead),
          path: String(row.path), device: String(row.device) as HeatmapDevice, seen: nullable(row.seen), scroll: nullable(row.scroll),
          clicks: decodeClicks(String(row.clicks)),
        });
      }
    }
    return heatmapOfPeople(rows, people, filter.matches);
  }

  /** A person's view rows (a visitor: lead null; a lead: its own and its visitors'). */
  async erase(site: string, lead: string | null, visitors: readonly string[]): Promise<void> {
    const [found] = await this.io.rows(SQL.countHeatmapViewsOf(site, lead, visitors));
    if (Number(found.n) > 0) await this.io.mutate('heatmap_views', SQL.deleteHeatmapViewsOf(site, lead, visitors));
  }

  async expire(site: string, beforeMs: number): Promise<void> {
    const beforeDay = utcDay(beforeMs);
    const [found] = await this.io.rows(SQL.countHeatmapsBefore(site, beforeMs, beforeDay));
    if (Number(found.views) > 0) await this.io.mutate('heatmap_views', SQL.deleteHeatmapViewsBefore(site, beforeMs));
    if (Number(found.clicks) > 0) await this.io.mutate('heatmap_clicks', SQL.deleteHeatmapDaysBefore('heatmap_clicks', site, beforeDay));
    if (Number(found.scroll) > 0) await this.io.mutate('heatmap_scroll', SQL.deleteHeatmapDaysBefore('heatmap_scroll', site, beforeDay));
  }
}
