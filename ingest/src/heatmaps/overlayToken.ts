// The overlay's link token: what heatmap it may read, until when, signed (HMAC-SHA256) with a
// secret the collectors share through the store. Read-only by construction: it names one query.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { HeatmapDevice } from './capture.js';

export const OVERLAY_TOKEN_TTL_MS = 30 * 60_000;

export interface OverlayGrant {
  site: string;
  path: string;
  from: string;
  to: string;
  device: HeatmapDevice | null;
  funnel: string | null;
  step: number | null;
  status: 'went_on' | 'dropped' | null;
  /** Epoch ms after which the token is refused. */
  expires: number;
}

const sign = (secret: string, payload: string) => createHmac('sha256', secret).update(payload).digest('base64url');

export function signOverlayToken(secret: string, grant: OverlayGrant): string {
  const payload = Buffer.from(JSON.stringify(grant)).toString('base64url');
  return `${payload}.${sign(secret, payload)}`;
}

/** The grant, or null when the token is malformed, forged or expired at `now`. */
export function verifyOverlayToken(secret: string, token: string, now: number): OverlayGrant | null {
  const dot = token.indexOf('.');
  if (dot <= 0) return null;
  const payload = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1));
  const expected = Buffer.from(sign(secret, payload));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const grant = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as OverlayGrant;
    return typeof grant.expires === 'number' && grant.expires > now ? grant : null;
  } catch {
    return null;
  }
}
