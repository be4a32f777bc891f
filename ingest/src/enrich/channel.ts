// The attribution of a visit: source, medium and Google Analytics 4's default channel group.
import type { Attribution } from '../event.js';
import { boundedMemo } from './memo.js';
import { parseHttpUrl, redactEmails, type UtmParams } from './privacy.js';
import sourcesData from './sources.json' with { type: 'json' };

export type SourceCategory = 'search' | 'social' | 'video' | 'shopping' | 'email';

export interface KnownSource {
  /** The source name stored in `source` (e.g. 'google' for www.google.co.uk). */
  name: string;
  category: SourceCategory;
  /** Query parameters of a referrer that carry the search term, in order of preference. */
  params: readonly string[];
}

export interface ChannelInput {
  /** The raw document referrer (not yet sanitised: the search term lives in its query). */
  referrer: string | null;
  utm: UtmParams;
  /** The site's host: a referrer from it or a subdomain of it is internal navigation. */
  siteHost: string;
  /** The page URL carries a Google Ads click id. */
  gclid?: boolean;
}

const CATEGORIES: ReadonlySet<string> = new Set<SourceCategory>(['search', 'social', 'video', 'shopping', 'email']);

// sources.json, indexed once: exact hosts, 'name.*' wildcards, and utm_source names and aliases.
const byHost = new Map<string, KnownSource>();
const byWildcard = new Map<string, KnownSource>();
const byName = new Map<string, KnownSource>();
for (const entry of sourcesData.sources) {
  if (!CATEGORIES.has(entry.category)) throw new Error(`sources.json: bad category for ${entry.name}`);
  const source: KnownSource = Object.freeze({
    name: entry.name,
    category: entry.category as SourceCategory,
    params: Object.freeze(entry.params ?? []),
  });
  for (const host of entry.hosts) {
    if (host.endsWith('.*')) byWildcard.set(host.slice(0, -2), source);
    else byHost.set(host, source);
  }
  byName.set(entry.name, source);
  for (const alias of entry.aliases ?? []) byName.set(alias, source);
}

// The tail a 'name.*' pattern accepts: a TLD, or a country's second level (com, co.uk, com.br).
const isCountryTail = (labels: readonly string[]): boolean =>
  (labels.length === 1 || labels.length === 2) && labels.every((l) => l.length >= 2 && l.length <= 3);

function lookupHostUncached(host: string): KnownSource | null {
  const labels = host.split('.');
  // Most specific first: mail.google.com (email) before google.* (search).
  for (let i = 0; i < labels.length - 1; i++) {
    const exact = byHost.get(labels.slice(i).join('.'));
    if (exact !== undefined) return exact;
    const wildcard = byWildcard.get(labels[i]!);
    if (wildcard !== undefined && isCountryTail(labels.slice(i + 1))) return wildcard;
  }
  return null;
}

const lookupHostMemo = boundedMemo(lookupHostUncached);

/** The known source (search engine, social network, …) a host belongs to, or null. */
export function lookupHost(host: string): KnownSource | null {
  return lookupHostMemo(host.toLowerCase().replace(/\.$/, ''));
}

/** The known source a `utm_source` value names ('facebook', 'fb', 'facebook.com'), or null. */
export function lookupSourceName(source: string): KnownSource | null {
  const name = source.trim().toLowerCase();
  return byName.get(name) ?? (name.includes('.') ? lookupHost(name) : null);
}

const stripWww = (host: string): string => (host.startsWith('www.') ? host.slice(4) : host);

/** A referrer from the site itself or one of its subdomains. */
export function isInternalHost(host: string, siteHost: string): boolean {
  const ref = stripWww(host.toLowerCase());
  const site = stripWww(siteHost.toLowerCase());
  return ref === site || ref.endsWith(`.${site}`);
}

/** The search term in a search engine's referrer URL (q=, p= for Yahoo, text= for Yandex, …). */
export function searchTerm(referrer: URL, source: KnownSource): string | null {
  for (const param of source.params) {
    const value = referrer.searchParams.get(param)?.trim();
    if (value) return redactEmails(value);
  }
  return null;
}

const MEDIUM_FOR: Readonly<Record<SourceCategory, string>> = {
  search: 'organic',
  social: 'social',
  video: 'referral',
  shopping: 'referral',
  email: 'email',
};

// GA4's default channel group conditions (support.google.com/analytics/answer/9756891).
const PAID_MEDIUM = /^(.*cp.*|ppc|retargeting|paid.*)$/;
const SHOPPING_CAMPAIGN = /^(.*(([^a-df-z]|^)shop|shopping).*)$/;
const DISPLAY_MEDIUMS: ReadonlySet<string> = new Set(['display', 'banner', 'expandable', 'interstitial', 'cpm']);
const SOCIAL_MEDIUMS: ReadonlySet<string> = new Set([
  'social', 'social-network', 'social-media', 'sm', 'social network', 'social media',
]);
const REFERRAL_MEDIUMS: ReadonlySet<string> = new Set(['referral', 'app', 'link']);
const EMAIL_TAGS: ReadonlySet<string> = new Set(['email', 'e-mail', 'e_mail', 'e mail']);

/**
 * The GA4 default channel group of a (source, medium, campaign), evaluated in GA4's order; the
 * match is case-insensitive. One extension: a webmail source (category 'email') is Email.
 */
export function channelGroup(source: string | null, medium: string | null, campaign: string | null): string {
  if (source === null && medium === null) return 'Direct';
  const s = source?.toLowerCase() ?? '';
  const m = medium?.toLowerCase() ?? '';
  const c = campaign?.toLowerCase() ?? '';
  const category = s === '' ? null : lookupSourceName(s)?.category ?? null;
  const paid = PAID_MEDIUM.test(m);
  const shoppingCampaign = SHOPPING_CAMPAIGN.test(c);

  if (s === '(direct)' && (m === '' || m === '(none)' || m === '(not set)')) return 'Direct';
  if (c.includes('cross-network')) return 'Cross-network';
  if ((category === 'shopping' || shoppingCampaign) && paid) return 'Paid Shopping';
  if (category === 'search' && paid) return 'Paid Search';
  if (category === 'social' && paid) return 'Paid Social';
  if (category === 'video' && paid) return 'Paid Video';
  if (DISPLAY_MEDIUMS.has(m)) return 'Display';
  if (paid) return 'Paid Other';
  if (category === 'shopping' || shoppingCampaign) return 'Organic Shopping';
  if (category === 'social' || SOCIAL_MEDIUMS.has(m)) return 'Organic Social';
  if (category === 'video' || m.includes('video')) return 'Organic Video';
  if (category === 'search' || m === 'organic') return 'Organic Search';
  if (REFERRAL_MEDIUMS.has(m)) return 'Referral';
  if (category === 'email' || EMAIL_TAGS.has(s) || EMAIL_TAGS.has(m)) return 'Email';
  if (m === 'affiliate') return 'Affiliates';
  if (m === 'audio') return 'Audio';
  if (s === 'sms' || m === 'sms') return 'SMS';
  if (m.endsWith('push') || m.includes('mobile') || m.includes('notification') || s === 'firebase') {
    return 'Mobile Push Notifications';
  }
  return 'Unassigned';
}

/**
 * The attribution of a visit from its landing page's UTM tags and its raw referrer; null for
 * internal navigation without tags, so that the caller keeps the session's attribution.
 *
 * source: utm_source, else 'google' for a Google Ads click, else the referrer's known source
 * name, else its host without `www.`. medium: utm_medium, else 'cpc' for a Google Ads click,
 * else (when utm_source is absent) derived from the referrer: 'organic' for a search engine,
 * 'social' for a social network, 'email' for webmail, 'referral' for any other site.
 */
export function classifyChannel(input: ChannelInput): Attribution | null {
  const { utm } = input;
  const gclid = input.gclid === true;
  const tagged = utm.source !== undefined || utm.medium !== undefined || gclid;
  const url = parseHttpUrl(input.referrer);
  const internal = url !== null && isInternalHost(url.hostname, input.siteHost);
  const hasUtm = tagged || utm.campaign !== undefined || utm.term !== undefined || utm.content !== undefined;
  if (internal && !hasUtm) return null;

  let refSource: string | null = null;
  let refMedium: string | null = null;
  let refTerm: string | null = null;
  if (url !== null && !internal) {
    const known = lookupHost(url.hostname);
    refSource = known?.name ?? stripWww(url.hostname);
    refMedium = known === null ? 'referral' : MEDIUM_FOR[known.category];
    if (known !== null && known.category === 'search') refTerm = searchTerm(url, known);
  }

  const source = utm.source ?? (gclid ? 'google' : refSource);
  const medium = utm.medium ?? (gclid ? 'cpc' : utm.source === undefined ? refMedium : null);
  const campaign = utm.campaign ?? null;
  return {
    channel: channelGroup(source, medium, campaign),
    source,
    medium,
    campaign,
    term: utm.term ?? refTerm,
    content: utm.content ?? null,
  };
}
