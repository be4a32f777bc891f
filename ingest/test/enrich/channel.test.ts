import { describe, expect, it } from 'vitest';
import type { Attribution } from '../../src/event.js';
import {
  channelGroup,
  classifyChannel,
  isInternalHost,
  lookupHost,
  lookupSourceName,
  type ChannelInput,
} from '../../src/enrich/channel.js';
import { sanitizeUrl } from '../../src/enrich/privacy.js';

const SITE = 'shop.example.com';

/** Classifies a visit the way the collector does: UTM tags and gclid from the page URL. */
function visit(pageUrl: string, referrer: string | null): Attribution | null {
  const page = sanitizeUrl(pageUrl, []);
  if (page === null) throw new Error(`bad test URL ${pageUrl}`);
  return classifyChannel({ referrer, utm: page.utm, siteHost: SITE, gclid: page.gclid });
}

const attribution = (fields: Partial<Attribution> & { channel: string }): Attribution => ({
  source: null,
  medium: null,
  campaign: null,
  term: null,
  content: null,
  ...fields,
});

describe('classifyChannel: visits from a referrer, untagged', () => {
  it.each([
    ['Google (www.google.com)', 'https://www.google.com/', 'google', 'organic', 'Organic Search'],
    ['Google UK (www.google.co.uk)', 'https://www.google.co.uk/', 'google', 'organic', 'Organic Search'],
    ['Google Brazil (google.com.br)', 'https://google.com.br/', 'google', 'organic', 'Organic Search'],
    ['Bing', 'https://www.bing.com/', 'bing', 'organic', 'Organic Search'],
    ['DuckDuckGo', 'https://duckduckgo.com/', 'duckduckgo', 'organic', 'Organic Search'],
    ['Ecosia', 'https://www.ecosia.org/', 'ecosia', 'organic', 'Organic Search'],
    ['Brave Search', 'https://search.brave.com/', 'brave', 'organic', 'Organic Search'],
    ['Facebook link shim (l.facebook.com)', 'https://l.facebook.com/', 'facebook', 'social', 'Organic Social'],
    ['Facebook mobile (m.facebook.com)', 'https://m.facebook.com/', 'facebook', 'social', 'Organic Social'],
    ['Instagram', 'https://l.instagram.com/', 'instagram', 'social', 'Organic Social'],
    ['Twitter / X (t.co)', 'https://t.co/', 'twitter', 'social', 'Organic Social'],
    ['x.com', 'https://x.com/', 'twitter', 'social', 'Organic Social'],
    ['LinkedIn short link (lnkd.in)', 'https://lnkd.in/', 'linkedin', 'social', 'Organic Social'],
    ['LinkedIn', 'https://www.linkedin.com/', 'linkedin', 'social', 'Organic Social'],
    ['Reddit', 'https://out.reddit.com/', 'reddit', 'social', 'Organic Social'],
    ['Hacker News', 'https://news.ycombinator.com/', 'hackernews', 'social', 'Organic Social'],
    ['YouTube', 'https://www.youtube.com/', 'youtube', 'referral', 'Organic Video'],
    ['Vimeo', 'https://vimeo.com/123', 'vimeo', 'referral', 'Organic Video'],
    ['Amazon Germany', 'https://www.amazon.de/dp/B00', 'amazon', 'referral', 'Organic Shopping'],
    ['Gmail (web)', 'https://mail.google.com/', 'gmail', 'email', 'Email'],
    ['Outlook (web)', 'https://outlook.live.com/', 'outlook', 'email', 'Email'],
    ['a blog', 'https://blog.someone.net/2024/best-tools', 'blog.someone.net', 'referral', 'Referral'],
    ['a site on www', 'https://www.partner-site.org/links', 'partner-site.org', 'referral', 'Referral'],
  ])('%s', (_name, referrer, source, medium, channel) => {
    expect(visit('https://shop.example.com/', referrer)).toEqual(attribution({ channel, source, medium }));
  });

  it('is Direct without a referrer nor tags', () => {
    expect(visit('https://shop.example.com/', null)).toEqual(attribution({ channel: 'Direct' }));
    expect(visit('https://shop.example.com/?ref=abc', '')).toEqual(attribution({ channel: 'Direct' }));
  });

  it('is Direct for a referrer that is no http(s) URL', () => {
    expect(visit('https://shop.example.com/', 'android-app://com.example.app/')).toEqual(
      attribution({ channel: 'Direct' }),
    );
  });
});

describe('classifyChannel: the search term of a search engine referrer', () => {
  it.each([
    ['Yahoo (p=)', 'https://search.yahoo.com/search?p=running+shoes&fr=yfp-t', 'yahoo', 'running shoes'],
    ['Google (q=)', 'https://www.google.com/search?q=funnel%20analytics&hl=en', 'google', 'funnel analytics'],
    ['Bing (q=)', 'https://www.bing.com/search?q=self+hosted+analytics&form=QBLH', 'bing', 'self hosted analytics'],
    ['Yandex (text=)', 'https://yandex.ru/search/?text=%D0%BA%D0%B5%D0%B4%D1%8B&lr=213', 'yandex', 'кеды'],
    ['Baidu (wd=)', 'https://www.baidu.com/s?wd=shoes', 'baidu', 'shoes'],
    ['Naver (query=)', 'https://search.naver.com/search.naver?query=shoes', 'naver', 'shoes'],
    ['Startpage (query=)', 'https://www.startpage.com/do/search?query=shoes', 'startpage', 'shoes'],
  ])('%s', (_name, referrer, source, term) => {
    expect(visit('https://shop.example.com/', referrer)).toEqual(
      attribution({ channel: 'Organic Search', source, medium: 'organic', term }),
    );
  });

  it('has no term when the engine sends none (Google today) or sends it empty', () => {
    expect(visit('https://shop.example.com/', 'https://www.google.com/')?.term).toBeNull();
    expect(visit('https://shop.example.com/', 'https://www.google.com/search?q=')?.term).toBeNull();
  });

  it('prefers utm_term to the referrer search term', () => {
    expect(visit('https://shop.example.com/?utm_term=sneakers', 'https://www.bing.com/search?q=shoes')?.term).toBe(
      'sneakers',
    );
  });

  it('reads no search term from a non-search referrer', () => {
    expect(visit('https://shop.example.com/', 'https://blog.example.org/?q=secret')?.term).toBeNull();
  });

  it('redacts an e-mail address typed as a search term', () => {
    expect(visit('https://shop.example.com/', 'https://www.bing.com/search?q=jane%40example.com+order')?.term).toBe(
      '[email] order',
    );
  });
});

describe('classifyChannel: tagged visits (UTM, gclid)', () => {
  it('a newsletter: utm_source=newsletter & utm_medium=email → Email', () => {
    expect(
      visit(
        'https://shop.example.com/deals?utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale&utm_content=hero',
        null,
      ),
    ).toEqual(
      attribution({
        channel: 'Email',
        source: 'newsletter',
        medium: 'email',
        campaign: 'spring_sale',
        content: 'hero',
      }),
    );
  });

  it('utm_medium=cpc & utm_source=google → Paid Search, even with the organic-looking referrer', () => {
    expect(
      visit('https://shop.example.com/?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=shoes', 'https://www.google.com/'),
    ).toEqual(attribution({ channel: 'Paid Search', source: 'google', medium: 'cpc', campaign: 'brand', term: 'shoes' }));
  });

  it('utm_source=facebook & utm_medium=cpc → Paid Social', () => {
    expect(visit('https://shop.example.com/?utm_source=facebook&utm_medium=cpc', 'https://l.facebook.com/')).toEqual(
      attribution({ channel: 'Paid Social', source: 'facebook', medium: 'cpc' }),
    );
  });

  it('a gclid without UTM tags is a Google Ads click → Paid Search', () => {
    expect(visit('https://shop.example.com/?gclid=EAIaIQobChMI', 'https://www.google.com/')).toEqual(
      attribution({ channel: 'Paid Search', source: 'google', medium: 'cpc' }),
    );
  });

  it.each([
    ['display', 'utm_source=gdn&utm_medium=display', 'Display'],
    ['banner', 'utm_source=adnet&utm_medium=banner', 'Display'],
    ['cpm (Display wins over the paid pattern)', 'utm_source=adnet&utm_medium=cpm', 'Display'],
    ['affiliate', 'utm_source=partner42&utm_medium=affiliate', 'Affiliates'],
    ['paid YouTube', 'utm_source=youtube&utm_medium=paid_video', 'Paid Video'],
    ['paid, unknown source', 'utm_source=adnet&utm_medium=ppc', 'Paid Other'],
    ['retargeting', 'utm_source=criteo&utm_medium=retargeting', 'Paid Other'],
    ['paid shopping by source', 'utm_source=amazon&utm_medium=cpc', 'Paid Shopping'],
    ['paid shopping by campaign', 'utm_source=google&utm_medium=cpc&utm_campaign=shopping_q4', 'Paid Shopping'],
    ['cross-network campaign', 'utm_source=google&utm_medium=cpc&utm_campaign=pmax-cross-network', 'Cross-network'],
    ['organic shopping by campaign', 'utm_source=partner&utm_campaign=shop_launch', 'Organic Shopping'],
    ['social by medium', 'utm_source=community&utm_medium=social', 'Organic Social'],
    ['social by source alias', 'utm_source=fb', 'Organic Social'],
    ['social by source host', 'utm_source=facebook.com&utm_medium=referral', 'Organic Social'],
    ['video by medium', 'utm_source=webinar&utm_medium=video', 'Organic Video'],
    ['organic by medium', 'utm_source=someengine&utm_medium=organic', 'Organic Search'],
    ['referral by medium', 'utm_source=partner&utm_medium=referral', 'Referral'],
    ['link', 'utm_source=partner&utm_medium=link', 'Referral'],
    ['e-mail spelled e-mail, in the source', 'utm_source=e-mail', 'Email'],
    ['audio', 'utm_source=spotify&utm_medium=audio', 'Audio'],
    ['sms', 'utm_source=sms', 'SMS'],
    ['push', 'utm_source=app&utm_medium=web-push', 'Mobile Push Notifications'],
    ['notification', 'utm_source=app&utm_medium=notification', 'Mobile Push Notifications'],
    ['firebase', 'utm_source=firebase', 'Mobile Push Notifications'],
    ['unknown medium', 'utm_source=flyer&utm_medium=print', 'Unassigned'],
    ['case-insensitive', 'utm_source=Google&utm_medium=CPC', 'Paid Search'],
  ])('%s → %s', (_name, query, channel) => {
    expect(visit(`https://shop.example.com/?${query}`, null)?.channel).toBe(channel);
  });

  it('keeps the tags as sent (case included) in source, medium and campaign', () => {
    expect(visit('https://shop.example.com/?utm_source=Google&utm_medium=CPC&utm_campaign=Brand', null)).toEqual(
      attribution({ channel: 'Paid Search', source: 'Google', medium: 'CPC', campaign: 'Brand' }),
    );
  });

  it('takes the source from the referrer when only utm_medium is tagged', () => {
    expect(visit('https://shop.example.com/?utm_medium=affiliate', 'https://www.coupons.example/')).toEqual(
      attribution({ channel: 'Affiliates', source: 'coupons.example', medium: 'affiliate' }),
    );
  });

  it('does not guess a medium from the referrer when utm_source is tagged', () => {
    expect(visit('https://shop.example.com/?utm_source=newsletter', 'https://www.google.com/')).toEqual(
      attribution({ channel: 'Unassigned', source: 'newsletter', medium: null }),
    );
  });
});

describe('classifyChannel: internal navigation', () => {
  it('returns null for a referrer on the site itself, so the session keeps its attribution', () => {
    expect(visit('https://shop.example.com/cart', 'https://shop.example.com/deals/chicago-spa?x=1')).toBeNull();
  });

  it('treats www. and subdomains of the site as internal', () => {
    expect(visit('https://shop.example.com/cart', 'https://www.shop.example.com/')).toBeNull();
    expect(visit('https://shop.example.com/cart', 'https://checkout.shop.example.com/pay')).toBeNull();
  });

  it('does not treat a look-alike host as internal', () => {
    expect(visit('https://shop.example.com/', 'https://evilshop.example.com/')?.channel).toBe('Referral');
    expect(visit('https://shop.example.com/', 'https://shop.example.com.evil.net/')?.channel).toBe('Referral');
  });

  it('classifies an internal visit that carries UTM tags by its tags', () => {
    expect(
      visit('https://shop.example.com/?utm_source=newsletter&utm_medium=email', 'https://shop.example.com/'),
    ).toEqual(attribution({ channel: 'Email', source: 'newsletter', medium: 'email' }));
  });
});

describe('source lookup', () => {
  it('matches google.* under country TLDs but not under unrelated domains', () => {
    expect(lookupHost('www.google.de')?.name).toBe('google');
    expect(lookupHost('google.co.jp')?.name).toBe('google');
    expect(lookupHost('WWW.GOOGLE.COM.')?.name).toBe('google');
    expect(lookupHost('google.example-shop.com')).toBeNull();
    expect(lookupHost('notgoogle.com')).toBeNull();
  });

  it('prefers the most specific host: mail.google.com is e-mail, shopping.google.com shopping', () => {
    expect(lookupHost('mail.google.com')).toEqual({ name: 'gmail', category: 'email', params: [] });
    expect(lookupHost('shopping.google.com')?.category).toBe('shopping');
    expect(lookupHost('mail.yahoo.com')?.name).toBe('yahoo mail');
    expect(lookupHost('search.yahoo.co.jp')).toEqual({ name: 'yahoo', category: 'search', params: ['p', 'q'] });
  });

  it('resolves utm_source names, aliases and hosts', () => {
    expect(lookupSourceName('ig')?.name).toBe('instagram');
    expect(lookupSourceName(' LinkedIn ')?.name).toBe('linkedin');
    expect(lookupSourceName('m.facebook.com')?.name).toBe('facebook');
    expect(lookupSourceName('newsletter')).toBeNull();
  });

  it('isInternalHost compares hosts without www.', () => {
    expect(isInternalHost('www.example.com', 'example.com')).toBe(true);
    expect(isInternalHost('example.com', 'www.example.com')).toBe(true);
    expect(isInternalHost('blog.example.com', 'example.com')).toBe(true);
    expect(isInternalHost('example.com', 'blog.example.com')).toBe(false);
  });
});

describe('channelGroup', () => {
  it('is Direct with neither source nor medium, and for (direct) / (none)', () => {
    expect(channelGroup(null, null, null)).toBe('Direct');
    expect(channelGroup('(direct)', '(none)', null)).toBe('Direct');
  });

  it('applies GA4 rules in order: Display is checked before Paid Other', () => {
    expect(channelGroup('adnet', 'cpm', null)).toBe('Display');
    expect(channelGroup('adnet', 'cpv', null)).toBe('Paid Other');
  });

  it('uses the GA4 shop pattern: "shop" at a word start, not inside a word', () => {
    expect(channelGroup('partner', null, 'summer-shop')).toBe('Organic Shopping');
    expect(channelGroup('partner', null, 'workshop')).toBe('Unassigned');
  });
});

describe('classifyChannel input shape', () => {
  it('accepts the input as documented', () => {
    const input: ChannelInput = { referrer: 'https://duckduckgo.com/', utm: {}, siteHost: SITE };
    expect(classifyChannel(input)).toEqual(
      attribution({ channel: 'Organic Search', source: 'duckduckgo', medium: 'organic' }),
    );
  });
});
