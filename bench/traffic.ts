import { ID_MARK } from './load.js';

// Synthetic traffic that looks like real snippet traffic: thousands of distinct visitors (by
// IP), a spread of browsers, referrers and UTM tags, and the snippet's event shapes.

const paths = ['/', '/deals/chicago-spa', '/deals/sushi-night', '/deals/yoga-month', '/cart', '/thanks', '/about'];
const referrers = ['', '', '', 'https://www.google.com/', 'https://www.bing.com/search?q=spa+deals', 'https://l.facebook.com/',
  'https://t.co/x1', 'https://duckduckgo.com/', 'https://news.example.org/story', 'https://shop.example.com/'];
const utms = ['', '', '', '', '?utm_source=newsletter&utm_medium=email&utm_campaign=week12', '?utm_source=google&utm_medium=cpc&utm_campaign=spa'];
const names = ['pageview', 'pageview', 'pageview', 'pageview', 'popup_view', 'signup', 'add_to_cart', 'purchase'];

const platforms = [
  'Windows NT 10.0; Win64; x64', 'Macintosh; Intel Mac OS X 10_15_7', 'X11; Linux x86_64', 'Linux; Android 14; Pixel 8',
];

/** About 240 distinct User-Agent strings: versions × platforms, like a real site's long tail. */
export const userAgents: string[] = [];
for (let version = 100; version < 130; version++) {
  for (const platform of platforms) {
    userAgents.push(`Mozilla/5.0 (${platform}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${version}.0.0.0 Safari/537.36`);
  }
  userAgents.push(`Mozilla/5.0 (iPhone; CPU iPhone OS 17_${version % 8} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.${version % 8} Mobile/15E148 Safari/604.1`);
  userAgents.push(`Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:${version}.0) Gecko/20100101 Firefox/${version}.0`);
}

const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)];

export function visitorIp(visitors: number): string {
  const n = Math.floor(Math.random() * visitors);
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/** One event as the snippet sends it; its id is left as ID_MARK for the load generator to fill. */
export function snippetEvent(site = 'shop.example.com'): Record<string, unknown> {
  const name = pick(names);
  const event: Record<string, unknown> = {
    site,
    name,
    url: `https://${site}${pick(paths)}${pick(utms)}`,
    referrer: pick(referrers),
    id: ID_MARK,
    ts: Date.now(),
  };
  if (name === 'purchase') event.revenue = { amount: 25, currency: 'USD' };
  if (name === 'add_to_cart') event.props = { deal: 'chicago-spa', price: 25 };
  return event;
}

export function requestHeaders(visitors: number): Record<string, string> {
  return { 'user-agent': pick(userAgents), 'x-forwarded-for': visitorIp(visitors) };
}
