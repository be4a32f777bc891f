// From a validated wire event and its request to the stored record: every derived value
// (device, channel, visitor key, visit, clean URL) is computed here, once.
import { createHash } from 'node:crypto';
import type { StoredEvent } from '../event.js';
import type { Site } from '../store/types.js';
import type { WireEvent } from './eventSchema.js';
import { parseUserAgent } from '../enrich/userAgent.js';
import { classifyChannel } from '../enrich/channel.js';
import { cookielessVisitorKey, redactEmails, redactProps, sanitizeReferrer, sanitizeUrl } from '../enrich/privacy.js';
import { boundedMemo } from '../enrich/memo.js';
import type { SessionTracker } from './sessions.js';

// A site's pages and referrers repeat all day long, and cleaning and classifying them are
// pure string functions: each distinct one is worked out once (a third of the enrichment cost).
// Keys put the parts that cannot hold a newline first (parameter names, hosts, clean URLs), so
// the client's raw string, which can, is simply the rest.
const cleanPage = boundedMemo((key: string) => {
  const cut = key.indexOf('\n');
  const params = key.slice(0, cut);
  return sanitizeUrl(key.slice(cut + 1), params ? params.split(',') : []);
});
const cleanReferrer = boundedMemo((referrer: string) => sanitizeReferrer(referrer));
const channelOf = boundedMemo((key: string) => {
  const [siteHost, gclid, url] = key.split('\n', 3);
  const referrer = key.slice(siteHost.length + gclid.length + url.length + 3);
  const page = cleanPage(`\n${url}`)!;
  return classifyChannel({ referrer: referrer || null, utm: page.utm, siteHost, gclid: gclid === '1' });
});

/** Client clocks are trusted this far into the past (the snippet's retry queue) and never ahead. */
export const MAX_CLIENT_AGE_MS = 3 * 86_400_000;

export interface RequestContext {
  ip: string;
  userAgent: string;
  receivedAt: number;
  site: Site;
  /** Today's salt for cookieless visitor keys. */
  salt: string;
  sessions: SessionTracker;
}

export type EnrichResult = { event: StoredEvent } | { error: string; field: string };

export function clampEventTime(clientTs: number | undefined, receivedAt: number): number {
  if (clientTs === undefined) return receivedAt;
  return Math.min(receivedAt, Math.max(receivedAt - MAX_CLIENT_AGE_MS, Math.floor(clientTs)));
}

/** A lead id must never be an e-mail address: one that looks like one is stored as its hash. */
export function leadId(lead: string | undefined): string | null {
  if (lead === undefined) return null;
  if (redactEmails(lead) === lead) return lead;
  return `h:${createHash('sha256').update(lead.trim().toLowerCase()).digest('base64url').slice(0, 22)}`;
}

export function enrichEvent(wire: WireEvent, ctx: RequestContext): EnrichResult {
  const page = cleanPage(`${ctx.site.allowedParams.join(',')}\n${wire.url}`);
  if (!page) return { field: 'url', error: 'url must be an absolute http(s) URL' };

  const ts = clampEventTime(wire.ts, ctx.receivedAt);
  const visitor = wire.visitor ?? cookielessVisitorKey(ctx.salt, ctx.site.domain, ctx.ip, ctx.userAgent);
  // The channel depends on the referrer and the page's UTM tags, which the clean URL keeps.
  const attribution = channelOf(`${page.host}\n${page.gclid ? 1 : 0}\n${page.url}\n${wire.referrer ?? ''}`);
  const visitKey = `${ctx.site.domain}\n${wire.session ?? visitor}`;
  const visit = ctx.sessions.visit(visitKey, ts, page.path, attribution, wire.session);
  const device = parseUserAgent(ctx.userAgent);

  return {
    event: {
      site: ctx.site.domain,
      id: wire.id ?? null,
      client_ts: wire.ts ?? 0,
      ts,
      name: wire.name,
      visitor,
      session: visit.id,
      lead: leadId(wire.lead),
      url: page.url,
      path: page.path,
      landing: visit.landing,
      referrer: wire.referrer ? cleanReferrer(wire.referrer) : null,
      ...visit.attribution,
      browser: device.browser,
      os: device.os,
      device: device.device,
      props: wire.props ? redactProps(wire.props) : null,
      revenue_amount: wire.revenue?.amount ?? null,
      revenue_currency: wire.revenue?.currency ?? null,
      engaged_ms: wire.engaged_ms ?? null,
      scroll: wire.scroll ?? null,
      variant: wire.variant ? redactEmails(wire.variant) : null,
    },
  };
}
