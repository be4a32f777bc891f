// A worker thread that reads a site's history from its own SQLite connection, so that the
// long reads of a back-fill or a preview never hold up the event loop that takes events.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { parseStoredFunnel, type FunnelDefinition } from '../../funnel/definition.js';
import { backfillFunnel } from '../../funnel/backfill.js';
import { previewReport, previewSpan } from '../../funnel/preview.js';
import { encodeAggregate } from '../../funnel/aggregateCodec.js';
import type { IdentityLink } from '../../funnel/identity.js';
import type { BreakdownDimension } from '../../funnel/report.js';
import { SQL } from './sql.js';
import { funnelEventPages } from './funnelEvents.js';
import type { Row } from '../rows.js';
import type { PersonRow } from '../../funnel/people.js';

export type HistoryJob =
  | { kind: 'backfill'; site: string; definition: FunnelDefinition; until: number; arrivalBound: number }
  | { kind: 'preview'; site: string; definition: FunnelDefinition; range: { fromMs: number; toMs: number }; now: number; breakdown?: BreakdownDimension };

export type HistoryMessage =
  | { kind: 'days'; days: [string, string][]; rows: PersonRow[]; done: number }
  | { kind: 'end'; chainEnds: [string, number][] }
  | { kind: 'report'; report: unknown }
  | { kind: 'error'; message: string };

const { file, job } = workerData as { file: string; job: HistoryJob };
const post = (message: HistoryMessage) => parentPort!.postMessage(message);

async function run(): Promise<void> {
  const db = new Database(file, { readonly: true });
  db.pragma('busy_timeout = 1000');
  try {
    const links = new Map<string, IdentityLink>();
    for (const row of db.prepare(SQL.siteLinks).all(job.site, Number.MAX_SAFE_INTEGER) as Row[]) {
      links.set(String(row.visitor), { lead: String(row.lead), at: Number(row.at) });
    }
    const page = db.prepare(SQL.funnelEventPage);
    const funnel = parseStoredFunnel(job.definition);
    if (job.kind === 'preview') {
      const span = previewSpan(funnel, job.range);
      const events = [...funnelEventPages(page, job.site, span.fromMs, span.toMs, Infinity)].flat();
      post({ kind: 'report', report: previewReport(events, (visitor) => links.get(visitor), funnel, job.range, { now: job.now, breakdown: job.breakdown }) });
      return;
    }
    const first = (db.prepare(SQL.siteFirstEvent).get(job.site) as Row).ts;
    const start = first === null ? job.until : Number(first);
    const events = (function* () {
      for (const events of funnelEventPages(page, job.site, -Infinity, job.until, job.arrivalBound)) yield* events;
    })();
    const result = await backfillFunnel(events, funnel, {
      until: job.until,
      links,
      onProgress: (days, watermark, rows) => post({
        kind: 'days',
        days: [...days].map(([day, aggregate]) => [day, encodeAggregate(aggregate)]),
        rows,
        done: job.until > start ? Math.max(0, Math.min(1, (watermark - start) / (job.until - start))) : 1,
      }),
    });
    void result.days;
    post({ kind: 'end', chainEnds: [...result.chainEnds] });
  } finally {
    db.close();
  }
}

run().catch((error: unknown) => post({ kind: 'error', message: error instanceof Error ? error.stack ?? error.message : String(error) }));
