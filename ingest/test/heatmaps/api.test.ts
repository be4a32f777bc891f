// GET /api/sites/:site/heatmap and the overlay link, against a real collector: what is refused
// and why (unknown devices, a split without its parts, a step past the funnel), and a heatmap
// sent through POST /api/event coming back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type RunningCollector } from '../../../test-support/collector.js';

const SITE = 'heat-api.example.com';
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const today = new Date().toISOString().slice(0, 10);
let collector: RunningCollector;

beforeAll(async () => {
  collector = await startCollector();
  expect((await collector.admin('/api/sites', { body: { domain: SITE } })).status).toBe(201);
  const funnel = { name: 'F', window: '1h', steps: [{ name: 'Deal', event: 'pageview', path: '/d/*' }, { name: 'Cart', event: 'add_to_cart' }] };
  expect((await collector.admin(`/api/sites/${SITE}/funnels/f`, { method: 'PUT', body: funnel })).status).toBeLessThan(300);
});
afterAll(() => collector?.close());

const heatmap = (query: string) => collector.admin(`/api/sites/${SITE}/heatmap?from=${today}&to=${today}${query}`);

describe('the heatmap API', () => {
  it('answers a heatmap sent through POST /api/event', async () => {
    const event = {
      site: SITE, name: 'engagement', url: `https://${SITE}/d/spa`, id: 'e1', ts: Date.now(), engaged_ms: 2000, scroll: 64,
      heatmap: { viewport: 1440, clicks: [{ selector: '#buy', x: 0.2, y: 0.4 }, { selector: '#buy', x: 0.4, y: 0.6, rage: true }] },
    };
    const sent = await fetch(`${collector.url}/api/event`, { method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': CHROME }, body: JSON.stringify(event) });
    expect(sent.status).toBe(202);
    const response = await heatmap('&path=/d/*&device=desktop');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      pageviews: 1,
      clicks: [{ selector: '#buy', x: 0.3, y: 0.5, count: 2, rage: 1 }],
      scroll: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100].map((depth) => ({ depth, visitors: depth <= 60 ? 1 : 0 })),
    });
    expect((await (await heatmap('&path=/d/spa&device=mobile')).json()).pageviews).toBe(0);
  });

  it('refuses unknown devices, a missing path and a split without its parts with a 400', async () => {
    const refused = async (query: string, field: string) => {
      const response = await heatmap(query);
      expect(response.status, query).toBe(400);
      expect((await response.json()).field, query).toBe(field);
    };
    await refused('&path=/d/*&device=watch', 'device');
    await refused('', 'path');
    await refused('&path=d', 'path');
    await refused('&path=/d/*&funnel=f&step=1', 'status');
    await refused('&path=/d/*&status=dropped', 'funnel');
    await refused('&path=/d/*&funnel=f&step=2&status=went_on', 'step');
    await refused('&path=/d/*&funnel=f&step=0&status=went_on', 'step');
    expect((await heatmap('&path=/d/*&funnel=nope&step=1&status=dropped')).status).toBe(404);
    expect((await collector.admin(`/api/sites/unknown.example.com/heatmap?from=${today}&to=${today}&path=/`)).status).toBe(404);
  });

  it('makes an overlay link that reads that heatmap, cross-origin, and nothing else', async () => {
    const link = (await (await collector.admin(`/api/sites/${SITE}/heatmap/overlay`, { body: { path: '/d/*', from: today, to: today } })).json()) as { token: string; url: string; expires_at: string };
    expect(link.url).toBe(`https://${SITE}/d/spa#fb-heatmap=${encodeURIComponent(link.token)}`);
    expect(Date.parse(link.expires_at) - Date.now()).toBeGreaterThan(29 * 60_000);
    const response = await fetch(`${collector.url}/api/heatmap-overlay?token=${encodeURIComponent(link.token)}`, { headers: { origin: 'https://elsewhere.example' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(await response.json()).toMatchObject({ pageviews: 1, path: '/d/*', device: null });
    expect((await fetch(`${collector.url}/api/heatmap-overlay?token=x.y`)).status).toBe(401);
    // Without credentials the heatmap itself stays closed.
    expect((await fetch(`${collector.url}/api/sites/${SITE}/heatmap?from=${today}&to=${today}&path=/`)).status).toBe(401);
  });
});
