// What is stored of a URL, a referrer or a property: no query data beyond campaign tags,
// no e-mail addresses, no raw IPs (CONTRACT.md, "Ingestion").
import { hash, randomBytes } from 'node:crypto';
import type { PropValue } from '../event.js';

/** The campaign parameters of a page URL (`utm_source` → `source`, …); absent when empty. */
export interface UtmParams {
  source?: string;
  medium?: string;
  campaign?: string;
  term?: string;
  content?: string;
  id?: string;
}

export interface SanitizedUrl {
  /** Origin, path and the kept query parameters; no fragment, no credentials. */
  url: string;
  path: string;
  /** Host name, lowercase, without port. */
  host: string;
  utm: UtmParams;
  /** The URL carries a Google Ads click id (auto-tagging), i.e. the visit is a paid click. */
  gclid: boolean;
}

export const EMAIL_PLACEHOLDER = '[email]';

// Bounded repetitions keep the scan linear on hostile input (RFC 5321: local part ≤ 64).
const EMAIL = /[a-z0-9._%+-]{1,64}(?:@|%40)(?:[a-z0-9-]{1,63}\.){1,8}[a-z]{2,24}/gi;
const MAYBE_EMAIL = /@|%40/i;

/** Replaces everything that looks like an e-mail address (also URL-encoded, `%40`) with `[email]`. */
export function redactEmails(text: string): string {
  if (!MAYBE_EMAIL.test(text)) return text;
  return text.replace(EMAIL, EMAIL_PLACEHOLDER);
}

/** A copy of `props` with e-mail addresses redacted from its keys and string values. */
export function redactProps(props: Readonly<Record<string, PropValue>>): Record<string, PropValue> {
  const out: Record<string, PropValue> = {};
  for (const [key, value] of Object.entries(props)) {
    out[redactEmails(key)] = typeof value === 'string' ? redactEmails(value) : value;
  }
  return out;
}

/**
 * Parses an absolute http(s) URL, or null. Exported so that channel.ts can read a search term
 * from the raw referrer before `sanitizeReferrer` throws the query string away.
 */
export function parseHttpUrl(raw: string | null | undefined): URL | null {
  if (raw === null || raw === undefined || raw === '') return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
}

const UTM_FIELDS: Readonly<Record<string, keyof UtmParams>> = {
  utm_source: 'source',
  utm_medium: 'medium',
  utm_campaign: 'campaign',
  utm_term: 'term',
  utm_content: 'content',
  utm_id: 'id',
};

// Google Ads auto-tagging: gclid, and gbraid/wbraid on iOS.
const GOOGLE_CLICK_IDS: ReadonlySet<string> = new Set(['gclid', 'gbraid', 'wbraid']);

/**
 * The stored form of a page URL: origin + path + `utm_*` (+ `allowedParams`), e-mails redacted;
 * null unless `raw` is an absolute http(s) URL.
 */
export function sanitizeUrl(raw: string, allowedParams: readonly string[]): SanitizedUrl | null {
  const parsed = parseHttpUrl(raw);
  if (parsed === null) return null;
  const kept = new URLSearchParams();
  const utm: UtmParams = {};
  let gclid = false;
  for (const [name, value] of parsed.searchParams) {
    if (GOOGLE_CLICK_IDS.has(name) && value !== '') gclid = true;
    if (!name.startsWith('utm_') && !allowedParams.includes(name)) continue;
    const clean = redactEmails(value);
    kept.append(name, clean);
    const field = UTM_FIELDS[name];
    const trimmed = clean.trim();
    // The first occurrence wins, as in GA4; an empty tag is no tag.
    if (field !== undefined && trimmed !== '' && utm[field] === undefined) utm[field] = trimmed;
  }
  const path = redactEmails(parsed.pathname);
  const query = kept.toString();
  return {
    url: parsed.origin + path + (query === '' ? '' : `?${query}`),
    path,
    host: parsed.hostname,
    utm,
    gclid,
  };
}

/** The stored form of a referrer: origin + path, e-mails redacted; null when empty or invalid. */
export function sanitizeReferrer(raw: string | undefined): string | null {
  const parsed = parseHttpUrl(raw);
  if (parsed === null) return null;
  return parsed.origin + redactEmails(parsed.pathname);
}

/**
 * The cookieless visitor key: a truncated SHA-256 of (daily salt, site, IP, User-Agent), 16 bytes
 * in base64url. The salt rotates daily and is then forgotten, so the key cannot be reversed to an
 * IP nor linked across days.
 */
export function cookielessVisitorKey(salt: string, site: string, ip: string, userAgent: string): string {
  // NUL separators: ("ab", "c") and ("a", "bc") must not hash alike.
  // The one-shot hash skips the Hash object: a few microseconds less on every cookieless event.
  // 22 base64url characters: 132 bits of the digest.
  return hash('sha256', `${salt}\0${site}\0${ip}\0${userAgent}`, 'base64url').slice(0, 22);
}

/** A fresh random salt for the cookieless visitor key (32 bytes, base64url). */
export function newDailySalt(): string {
  return randomBytes(32).toString('base64url');
}
