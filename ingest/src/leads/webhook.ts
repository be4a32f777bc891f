// The outgoing webhook of a site: its URL rules (no SSRF), the payload, the signature and
// the retry schedule. Pure but for the DNS look-up that checks where a URL points.
import { createHmac } from 'node:crypto';
import dns from 'node:dns';
import net from 'node:net';
import type { LeadRecord, StageChange } from './lead.js';
import { decayTo, roundScore, type ParsedScoringRules } from './scoring.js';

export interface WebhookConfig {
  url: string;
  /** Signs each body: X-Funnelbeam-Signature: sha256=<hex HMAC-SHA256 of the raw body>. */
  secret: string;
}

export interface WebhookOptions {
  /**
   * Deliver to loopback and private addresses. Off by default: a collector on the internet
   * must not become a proxy into the network it runs in. Tests (and a CRM on the LAN) turn it on.
   */
  allowPrivateAddresses: boolean;
  /** First retry after this long; each next one waits twice as long, capped at MAX_RETRY_DELAY_MS. */
  retryBaseMs: number;
  /** Deliveries given up after this many failed attempts. */
  maxAttempts: number;
  /** How often the sender looks for due deliveries. */
  pollMs: number;
  timeoutMs: number;
}

export const DEFAULT_WEBHOOK_OPTIONS: WebhookOptions = {
  allowPrivateAddresses: false,
  retryBaseMs: 30_000,
  maxAttempts: 12,
  pollMs: 1_000,
  timeoutMs: 10_000,
};

export const MAX_RETRY_DELAY_MS = 6 * 3_600_000;
export const SIGNATURE_HEADER = 'x-funnelbeam-signature';

/** Delay before attempt `attempts + 1`, after `attempts` failures: base × 2^(attempts − 1). */
export function retryDelay(attempts: number, baseMs: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** Math.max(0, attempts - 1));
}

export function sign(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export type WebhookEventType = 'lead.created' | 'lead.mql' | 'lead.stage';

export interface WebhookPayload {
  type: WebhookEventType;
  site: string;
  lead: string;
  stage: string;
  from: string | null;
  at: string;
  score: number;
  amount?: number;
  currency?: string;
  entry: { channel: string; source: string | null; medium: string | null; campaign: string | null; landing: string | null };
}

/** The body announcing a stage change: `lead.created` for a new lead (CRMs only), `lead.mql` when scoring made it an MQL, else `lead.stage`. */
export function webhookPayload(record: LeadRecord, change: StageChange, rules: ParsedScoringRules | null): WebhookPayload {
  const score = decayTo(record.score, change.at, rules?.halfLifeMs ?? null).value;
  return {
    type: change.from === null ? 'lead.created' : change.stage === 'mql' ? 'lead.mql' : 'lead.stage',
    site: record.site,
    lead: record.lead,
    stage: change.stage,
    from: change.from,
    at: new Date(change.at).toISOString(),
    score: roundScore(score),
    ...(change.amount !== null ? { amount: change.amount } : {}),
    ...(change.currency !== null ? { currency: change.currency } : {}),
    entry: {
      channel: record.entry.channel, source: record.entry.source, medium: record.entry.medium,
      campaign: record.entry.campaign, landing: record.entry.landing,
    },
  };
}

const privateRanges = new net.BlockList();
for (const [address, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) privateRanges.addSubnet(address, prefix, 'ipv4');
for (const [address, prefix] of [
  ['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96], ['2001:db8::', 32],
] as const) privateRanges.addSubnet(address, prefix, 'ipv6');

/** Loopback, private, link-local, multicast or reserved: not a place on the internet. */
export function isPrivateAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 4) return privateRanges.check(address, 'ipv4');
  if (family !== 6) return true;
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible forms reach the IPv4 address.
  const mapped = /^(?:::ffff:(?:0:)?)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return privateRanges.check(mapped[1], 'ipv4');
  const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (hexMapped) {
    const high = parseInt(hexMapped[1], 16);
    const low = parseInt(hexMapped[2], 16);
    return privateRanges.check(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`, 'ipv4');
  }
  return privateRanges.check(address, 'ipv6');
}

export type UrlCheck = { ok: true; url: URL } | { ok: false; error: string };

/** Checks a webhook URL without the network: http(s), no credentials, no private IP literal. */
export function checkWebhookUrl(input: string, allowPrivate: boolean): UrlCheck {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { ok: false, error: 'url must be an absolute http(s) URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, error: 'url must be http or https' };
  if (url.username || url.password) return { ok: false, error: 'url must not hold credentials: the secret signs each request' };
  if (url.hash) return { ok: false, error: 'url must not have a #fragment' };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate) {
    if (net.isIP(host) !== 0 && isPrivateAddress(host)) return { ok: false, error: `url points at a private or loopback address (${host})` };
    if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.local') || host.endsWith('.internal') || !host.includes('.')) {
      return { ok: false, error: `url must name a public host, not ${host}` };
    }
  }
  return { ok: true, url };
}

/** Resolves the URL's host and refuses it when any address is private (unless allowed). */
export async function resolveWebhookHost(url: URL, allowPrivate: boolean): Promise<string | null> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (allowPrivate) return null;
  if (net.isIP(host) !== 0) return isPrivateAddress(host) ? `url points at a private or loopback address (${host})` : null;
  try {
    const addresses = await dns.promises.lookup(host, { all: true, verbatim: true });
    const inside = addresses.find((a) => isPrivateAddress(a.address));
    return inside ? `${host} resolves to a private or loopback address (${inside.address})` : null;
  } catch {
    return `${host} does not resolve`;
  }
}

/**
 * A dns.lookup for http.request that refuses private addresses when the request connects,
 * so a host that resolved to a public address when configured cannot be re-pointed inward.
 */
export function guardedLookup(allowPrivate: boolean): net.LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as unknown as dns.LookupAddress[];
      const usable = allowPrivate ? list : list.filter((a) => !isPrivateAddress(a.address));
      if (usable.length === 0) {
        const refused = Object.assign(new Error(`${hostname} resolves only to private addresses`), { code: 'EPRIVATE' });
        return callback(refused, '', 0);
      }
      if ((options as dns.LookupOptions).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, usable);
      return callback(null, usable[0].address, usable[0].family);
    });
  };
}
