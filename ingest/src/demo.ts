// The demo shop served at /demo/ is registered as a site of its own, so a newcomer sees
// events arrive the moment `npm start` prints its URL.
import type { FastifyInstance } from 'fastify';
import type { FunnelDefinition } from './funnel/definition.js';

export const DEMO_SITE = 'demo.funnelbeam.local';

/** The demo shop's journey, from its landing page to a paid purchase. */
export const DEMO_FUNNEL: FunnelDefinition = {
  name: 'Demo shop: landing to purchase',
  window: '7d',
  steps: [
    { name: 'Landing', event: 'pageview', path: '/demo/' },
    { name: 'Coupon popup', event: 'popup_view' },
    { name: 'Signup', event: 'signup' },
    { name: 'Deal detail', event: 'pageview', path: '/demo/deals/*' },
    { name: 'Cart', event: 'add_to_cart' },
    { name: 'Purchase', event: 'purchase', props: { paid: 'true' } },
  ],
};

/** Registers the demo site (or updates its origins when the port changed) and its funnel. */
export async function ensureDemoSite(app: FastifyInstance, baseUrl: string): Promise<void> {
  const port = new URL(baseUrl).port;
  const origins = [...new Set([new URL(baseUrl).origin, `http://localhost:${port}`, `http://127.0.0.1:${port}`])];
  const existing = app.sites.get(DEMO_SITE);
  const site = { domain: DEMO_SITE, origins, allowedParams: [], createdAt: existing?.createdAt ?? Date.now() };
  if (existing) await app.store.updateSite(site);
  else await app.store.createSite(site);
  app.sites.remember(site);
  if ((await app.store.listFunnels(DEMO_SITE)).length === 0) {
    const now = Date.now();
    await app.store.putFunnel({ site: DEMO_SITE, id: 'demo', definition: DEMO_FUNNEL, createdAt: now, updatedAt: now });
  }
}
