// The event as it travels: what a client sends, and the enriched record every store keeps.
import type { HeatmapChunk } from './heatmaps/capture.js';

export type PropValue = string | number | boolean;

/** One event of the wire format (CONTRACT.md, "Ingestion"), after JSON-schema validation. */
export interface IncomingEvent {
  site: string;
  name: string;
  url: string;
  referrer?: string;
  id?: string;
  ts?: number;
  session?: string;
  visitor?: string;
  lead?: string;
  /** For the site's CRM connectors only (crm/): kept until delivered, never stored with the event. */
  email?: string;
  props?: Record<string, PropValue>;
  revenue?: { amount: number; currency: string };
  engaged_ms?: number;
  scroll?: number;
  variant?: string;
}

/** Attribution of the visit (session) an event belongs to, computed once at ingest. */
export interface Attribution {
  channel: string;
  source: string | null;
  medium: string | null;
  campaign: string | null;
  term: string | null;
  content: string | null;
}

/** The stored record: enriched once at ingest, read by stats and the funnel engine. */
export interface StoredEvent extends Attribution {
  site: string;
  /** Client event id (null when the client sent none); a retry with the same id and ts is stored once. */
  id: string | null;
  /** The client's own ts as sent (0 when absent): part of the de-duplication key, so that key grows in time order. */
  client_ts: number;
  /** Event time, epoch ms (client time with its skew clamped). */
  ts: number;
  name: string;
  /** Persistent client visitor id, else the cookieless daily key. */
  visitor: string;
  session: string;
  lead: string | null;
  /** Sanitised URL: path and utm_* parameters (plus the site's allowed parameters). */
  url: string;
  path: string;
  /** Path of the first pageview of the session. */
  landing: string;
  /** Sanitised referrer, or null when there was none. */
  referrer: string | null;
  browser: string | null;
  os: string | null;
  device: string | null;
  props: Record<string, PropValue> | null;
  revenue_amount: number | null;
  revenue_currency: string | null;
  engaged_ms: number | null;
  scroll: number | null;
  variant: string | null;
  /** Click and scroll data of a heatmapped page (never a column of the event: kept aggregated, see heatmaps/). */
  heatmap?: HeatmapChunk;
}
