// The demo shop served at /demo/ is registered as a site of its own, so a newcomer sees
// events arrive the moment `npm start` prints its URL.
import type { FastifyInstance } from 'fastify';

export const DEMO_SITE = 'demo.funnelbeam.local';

/** Registers the demo site (or updates its origins when the port changed). */
export async function ensureDemoSite(app: FastifyInstance, baseUrl: string): Promise<void> {
  const port = new URL(baseUrl).port;
  const origins = [...new Set([new URL(baseUrl).origin, `http://localhost:${port}`, `http://127.0.0.1:${port}`])];
  const existing = app.sites.get(DEMO_SITE);
  const site = { domain: DEMO_SITE, origins, allowedParams: [], createdAt: existing?.createdAt ?? Date.now() };
  if (existing) await app.store.updateSite(site);
  else await app.store.createSite(site);
  app.sites.remember(site);
}
