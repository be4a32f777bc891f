// The dashboard (/, /dashboard.js, /dashboard.css): built from source once per process, served
// with ETag, gzip and a strict Content-Security-Policy (no inline script or style, data only
// from this origin), so nothing an event carries can run in the marketer's browser.
import type { FastifyPluginAsync } from 'fastify';
import { builtAsset, serveBuiltAsset, type BuiltAsset } from './builtAsset.js';
import { buildDashboard } from '../../../dashboard/build.js';

export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

let built: Promise<{ html: BuiltAsset; js: BuiltAsset; css: BuiltAsset }> | null = null;

/** Builds the dashboard once per process, from source, so it is never stale. */
export function dashboardAssets() {
  built ??= buildDashboard().then(({ html, js, css }) => ({
    html: builtAsset(html, 'text/html; charset=utf-8'),
    js: builtAsset(js, 'application/javascript; charset=utf-8'),
    css: builtAsset(css, 'text/css; charset=utf-8'),
  }));
  return built;
}

export const dashboardRoutes: FastifyPluginAsync = async (app) => {
  const { html, js, css } = await dashboardAssets();

  const send = (file: BuiltAsset, cacheControl: string) => serveBuiltAsset(file, {
    'cache-control': cacheControl,
    'content-security-policy': DASHBOARD_CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
  });

  // The page is revalidated on every visit; it names the script and stylesheet by version, so
  // those may be cached for long.
  const page = { config: { access: 'public' as const } };
  app.get('/', page, send(html, 'no-cache'));
  // A shared link's page: the same dashboard, which then shows that one report (routes/shares.ts).
  app.get('/share/:token', page, send(html, 'no-cache'));
  app.get('/dashboard.js', page, send(js, 'public, max-age=86400'));
  app.get('/dashboard.css', page, send(css, 'public, max-age=86400'));
};
