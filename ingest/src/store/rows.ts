// Rows as both stores read them back (SQLite and ClickHouse keep these columns alike).
import type { FunnelDefinition } from '../funnel/definition.js';
import type { Site, Stats, StoredFunnel } from './types.js';

export type Row = Record<string, unknown>;

export function siteFromRow(row: Row): Site {
  return {
    domain: String(row.domain),
    origins: JSON.parse(String(row.origins)) as string[],
    allowedParams: JSON.parse(String(row.allowed_params)) as string[],
    createdAt: Number(row.created_at),
    retentionDays: row.retention_days === null || row.retention_days === undefined ? null : Number(row.retention_days),
  };
}

export function funnelFromRow(row: Row): StoredFunnel {
  return {
    site: String(row.site),
    id: String(row.id),
    definition: JSON.parse(String(row.definition)) as FunnelDefinition,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** Stats from the event counts row and the bot count row (numbers may arrive as strings). */
export function statsFromRows(events: Row, bots: Row): Stats {
  return {
    visitors: Number(events.visitors),
    pageviews: Number(events.pageviews),
    events: Number(events.events),
    bots: Number(bots.bots),
  };
}
