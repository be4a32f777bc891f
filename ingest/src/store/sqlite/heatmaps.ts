// Heatmaps on SQLite: each chunk is added to the per-day aggregates and kept as a view row, in
// the transaction of its event (a duplicate event, ignored, adds nothing).
import type Database from 'better-sqlite3';
import type { StoredEvent } from '../../event.js';
import type { HeatmapQuery } from '../types.js';
import {
  clickTotals, decodeClicks, depthsReached, encodeClicks, heatmapFromSums, heatmapOfPeople, pathFilter,
  type Heatmap, type HeatmapDevice, type HeatmapPerson, type HeatmapViewRow,
} from '../../heatmaps/capture.js';
import { HEATMAP_SQL } from './sql.js';
import { utcDay } from '../../time.js';
import type { Row } from '../rows.js';

export class SqliteHeatmaps {
  private readonly statements: { [K in keyof typeof HEATMAP_SQL]: Database.Statement };

  constructor(db: Database.Database) {
    this.statements = Object.fromEntries(
      Object.entries(HEATMAP_SQL).map(([name, sql]) => [name, db.prepare(sql)]),
    ) as { [K in keyof typeof HEATMAP_SQL]: Database.Statement };
  }

  /** Inside the caller's transaction: an inserted event's chunk, if it has one. */
  record(event: StoredEvent): void {
    const chunk = event.heatmap;
    if (!chunk) return;
    const { addClicks, addScroll, insertView } = this.statements;
    const day = utcDay(event.ts);
    for (const t of clickTotals(chunk.clicks)) addClicks.run(event.site, event.path, chunk.device, day, t.selector, t.count, t.sumX, t.sumY, t.rage);
    for (const depth of depthsReached(event.scroll, chunk.seen)) addScroll.run(event.site, event.path, chunk.device, day, depth);
    insertView.run(event.site, event.ts, event.visitor, event.lead, event.path, chunk.device, chunk.seen, event.scroll, encodeClicks(chunk.clicks));
  }

  heatmap(site: string, query: HeatmapQuery): Heatmap {
    const filter = pathFilter(query.path);
    const args = [site, filter.from, filter.to, query.device, query.device, utcDay(query.range.fromMs), utcDay(query.range.toMs - 1)];
    return heatmapFromSums(
      this.statements.clicks.iterate(...args) as IterableIterator<Row>, this.statements.scroll.iterate(...args) as IterableIterator<Row>, filter.matches,
    );
  }

  /** The funnel split: the view rows of the path in the people's spans, summed as the aggregates are. */
  heatmapOfPeople(site: string, query: HeatmapQuery, people: readonly HeatmapPerson[]): Heatmap {
    const filter = pathFilter(query.path);
    if (people.length === 0) return heatmapOfPeople([], people, filter.matches);
    const fromMs = people.reduce((min, p) => Math.min(min, p.fromMs), Infinity);
    const toMs = people.reduce((max, p) => Math.max(max, p.toMs), -Infinity);
    const rows = this.statements.views.iterate(site, filter.from, filter.to, query.device, query.device, fromMs, toMs) as IterableIterator<Row>;
    return heatmapOfPeople(viewRows(rows), people, filter.matches);
  }

  deleteVisitor(site: string, visitor: string): void {
    this.statements.deleteVisitorViews.run(site, visitor);
  }

  deleteLead(site: string, lead: string, visitors: Iterable<string>): void {
    this.statements.deleteLeadViews.run(site, lead);
    for (const visitor of visitors) this.statements.deleteVisitorViews.run(site, visitor);
  }

  /** Views before `beforeMs` (at most `limit`), and the aggregates of the days wholly before it. */
  expire(site: string, beforeMs: number, limit: number): void {
    this.statements.expireViews.run(site, beforeMs, limit);
    this.statements.expireClicks.run(site, utcDay(beforeMs));
    this.statements.expireScroll.run(site, utcDay(beforeMs));
  }
}

function* viewRows(rows: Iterable<Row>): Iterable<HeatmapViewRow> {
  for (const row of rows) {
    yield {
      ts: Number(row.ts),
      visitor: String(row.visitor),
      lead: row.lead === null ? null : String(row.lead),
      path: String(row.path),
      device: String(row.device) as HeatmapDevice,
      seen: row.seen === null ? null : Number(row.seen),
      scroll: row.scroll === null ? null : Number(row.scroll),
      clicks: decodeClicks(String(row.clicks)),
    };
  }
}
