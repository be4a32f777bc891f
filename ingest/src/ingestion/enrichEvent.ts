// From a validated wire event and its request to the stored record: every derived value
// (device, channel, visitor key, visit, clean URL) is computed here, once.
import { createHash } from 'node:crypto';
import type { Attribution, StoredEvent } from '../event.js';
import type { Site } from '../store/types.js';
import type { WireEvent } from './eventSchema.js';
import { parseUserAgent, type ParsedUserAgent } from '../enrich/userAgent.js';
import { classifyChannel } from '../enrich/channel.js';
import {
  cookielessVisitorKey, redactEmails, redactProps, sanitizeReferrer, sanitizeUrl, type SanitizedUrl,
} from '../enrich/privacy.js';
import { boundedMemo } from '../enrich/memo.js';
import type { SessionTracker } from './sessions.js';

// A site's pages and referrers repeat all day long, and cleaning and classifying them are
// pure string functions: each distinct one is worked out once. Lookups are keyed by the
// client's own strings, not by strings built per event: hashing a freshly concatenated key
// cost more than the SHA-256 of the visitor key.
interface Page extends SanitizedUrl {
  /** What the channel reads of the page (host, Google Ads click, UTM tags), as one key. */
  channelContext: string;
}

function cleanPage(url: string, allowedParams: readonly string[]): Page | null {
  const page = sanitizeUrl(url, allowedParams);
  if (!page) return null;
  const { utm } = page;
  const channelContext = JSON.stringify([page.host, page.gclid, utm.source, utm.medium, utm.campaign, utm.term, utm.content]);
  return { ...page, channelContext };
}
// Most sites keep no parameters beyond utm_*: their pages are keyed by the raw URL alone.
const pagesWithoutParams = boundedMemo((url: string) => cleanPage(url, []));
// Keys put the parameter names (which cannot hold a newline) first, so the raw URL is the rest.
const pagesWithParams = boundedMemo((key: string) => {
  const cut = key.indexOf('\n');
  return cleanPage(key.slice(cut + 1), key.slice(0, cut).split(','));
});

function pageOf(url: string, site: Site): Page | null {
  return site.allowedParams.length === 0 ? pagesWithoutParams(url) : pagesWithParams(`${site.allowedParams.join(',')}\n${url}`);
}

/** A referrer's stored form, and its attribution on each page context it was seen with. */
interface Referrer {
  clean: string | null;
  channels: Map<string, Attribution | null>;
}
/** Page contexts remembered per referrer; a referrer seen with more starts over. */
const MAX_CONTEXTS_PER_REFERRER = 32;
const referrers = boundedMemo((raw: string): Referrer => ({ clean: sanitizeReferrer(raw), channels: new Map() }));

function attributionOf(referrer: Referrer, raw: string, page: Page): Attribution | null {
  const known = referrer.channels.get(page.channelContext);
  if (known !== undefined || referrer.channels.has(page.channelContext)) return known ?? null;
  const attribution = classifyChannel({ referrer: raw || null, utm: page.utm, siteHost: page.host, gclid: page.gclid });
  if (referrer.channels.size >= MAX_CONTEXTS_PER_REFERRER) referrer.channels.clear();
  referrer.channels.set(page.channelContext, attribution);
  return attribution;
}

/** Client clocks are trusted this far into the past (the snippet's retry queue) and never ahead. */
export const MAX_CLIENT_AGE_MS = 3 * 86_400_000;

/**
 * What the events of one request share, worked out once per request rather than once per event
 * (a batch holds up to 100 events from one browser).
 */
export class RequestContext {
  private device: Readonly<ParsedUserAgent> | null = null;
  private visitorSite = '';
  private visitorKey = '';

  constructor(
    readonly ip: string,
    readonly userAgent: string,
    readonly receivedAt: number,
    /** Today's salt for cookieless visitor keys. */
    readonly salt: string,
    readonly sessions: SessionTracker,
  ) {}

  /** Browser, OS and device type of the request's User-Agent. */
  userAgentDetails(): Readonly<ParsedUserAgent> {
    return (this.device ??= parseUserAgent(this.userAgent));
  }

  /** The cookieless visitor key of this request on a site: one hash per request and site. */
  cookielessVisitor(site: string): string {
    if (this.visitorSite !== site || this.visitorKey === '') {
      this.visitorKey = cookielessVisitorKey(this.salt, site, this.ip, this.userAgent);
      this.visitorSite = site;
    }
    return this.visitorKey;
  }
}

export type EnrichResult = { event: StoredEvent } | { error: string; field: string };

/** The event's time: the client's, in whole milliseconds as its `client_ts` is, within MAX_CLIENT_AGE_MS before its arrival and not after it. */
function clampEventTime(clientTs: number | undefined, receivedAt: number): number {
  if (clientTs === undefined) return receivedAt;
  return Math.min(receivedAt, Math.max(receivedAt - MAX_CLIENT_AGE_MS, Math.round(clientTs)));
}

/** A lead id must never be an e-mail address: one that looks like one is stored as its hash. */
export function leadId(lead: string | undefined): string | null {
  if (lead === undefined) return null;
  if (redactEmails(lead) === lead) return lead;
  return `h:${createHash('sha256').update(lead.trim().toLowerCase()).digest('base64url').slice(0, 22)}`;
}

export function enrichEvent(wire: WireEvent, site: Site, ctx: RequestContext): EnrichResult {
  const page = pageOf(wire.url, site);
  if (!page) return { field: 'url', error: 'url must be an absolute http(s) URL' };

  const ts = clampEventTime(wire.ts, ctx.receivedAt);
  const visitor = wire.visitor ?? ctx.cookielessVisitor(site.domain);
  // The channel depends on the referrer and the page's UTM tags, which the clean URL keeps.
  const rawReferrer = wire.referrer ?? '';
  const referrer = referrers(rawReferrer);
  const visit = ctx.sessions.visit(`${site.domain}\n${wire.session ?? visitor}`, ts, page.path, attributionOf(referrer, rawReferrer, page), wire.session);
  const { attribution } = visit;
  const device = ctx.userAgentDetails();

  return {
    event: {
      site: site.domain,
      id: wire.id ?? null,
      // Whole milliseconds: the de-duplication key is an integer in both stores (ClickHouse's Int64).
      client_ts: Math.round(wire.ts ?? 0),
      ts,
      name: wire.name,
      visitor,
      session: visit.id,
      lead: leadId(wire.lead),
      url: page.url,
      path: page.path,
      landing: visit.landing,
      referrer: referrer.clean,
      channel: attribution.channel,
      source: attribution.source,
      medium: attribution.medium,
      campaign: attribution.campaign,
      term: attribution.term,
      content: attribution.content,
      browser: device.browser,
      os: device.os,
      device: device.device,
      props: wire.props ? redactProps(wire.props) : null,
      revenue_amount: wire.revenue?.amount ?? null,
      revenue_currency: wire.revenue?.currency ?? null,
      engaged_ms: wire.engaged_ms ?? null,
      scroll: wire.scroll ?? null,
      variant: wire.variant ? redactEmails(wire.variant) : null,
      ...(wire.heatmap && { heatmap: wire.heatmap }),
    },
  };
}
