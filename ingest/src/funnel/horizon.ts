// When a funnel entry is final ("a closed window cannot change"), measured on a site's
// watermark: the time of its newest event.
//
// An entry opened at `opensAt` reads the unit's events up to opensAt + window + SESSION_TAIL_MS
// (its span). Events arrive at most LATE_AFTER_MS behind the watermark (the collector clamps
// client times to that, enrichEvent.ts), and an identity link moves events at most
// IDENTITY_LOOKBACK_MS back (identity.ts). So once the watermark is FINAL_AFTER_MS past an
// entry's span, nothing that can still arrive changes it: it is added to the persisted day
// aggregates, and the events that only it read leave memory.
//
// Events older than LATE_AFTER_MS behind the watermark can only come from an import (or a
// restored backup); they never reach the live state, and make the site's funnels back-fill.
import { SESSION_TAIL_MS } from './entries.js';
import { IDENTITY_LOOKBACK_MS } from './identity.js';
import { DAY_MS } from '../time.js';

export const LATE_AFTER_MS = 3 * DAY_MS;
export const FINAL_AFTER_MS = LATE_AFTER_MS + IDENTITY_LOOKBACK_MS;

/** Entries whose span ends before this are final, for a site whose newest event is at `watermark`. */
export function finalThreshold(watermark: number): number {
  return watermark - FINAL_AFTER_MS;
}

/** Entries opening before this are final: their span (window and session tail) ends before `threshold`. */
export function openingBound(threshold: number, windowMs: number): number {
  return threshold - windowMs - SESSION_TAIL_MS;
}

/** Is an event at `ts` too old for the live state of a site whose newest event is at `watermark`? */
export function isLate(ts: number, watermark: number): boolean {
  return ts < watermark - LATE_AFTER_MS;
}
