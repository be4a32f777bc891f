// Rows as both stores read them back (SQLite and ClickHouse keep these columns alike).
import type { FunnelDefinition } from '../funnel/definition.js';
import type { AccountRecord, AccountRecordKind, AuditEntry, Site, Stats, StoredFunnel } from './types.js';

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

/** An account record; `expires_at` is NULL on SQLite and 0 on ClickHouse for none. */
export function accountRecordFromRow(row: Row): AccountRecord {
  const expiresAt = row.expires_at === null || row.expires_at === undefined ? 0 : Number(row.expires_at);
  return { kind: String(row.kind) as AccountRecordKind, id: String(row.id), body: String(row.body), expiresAt: expiresAt || null };
}

export function auditEntryFromRow(row: Row): AuditEntry {
  const orNull = (value: unknown) => (value === null || value === undefined || value === '' ? null : String(value));
  return { at: Number(row.at), actor: String(row.actor), action: String(row.action), site: orNull(row.site), target: orNull(row.target) };
}
