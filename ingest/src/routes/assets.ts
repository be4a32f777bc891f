// The snippet (/f.js, /funnelbeam.mjs) and the demo shop (/demo/).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import fastifyStatic from '@fastify/static';
import { buildModule, buildSnippet } from '../../../snippet/build.js';
import { builtAsset, serveBuiltAsset, type BuiltAsset } from './builtAsset.js';

const JS = 'application/javascript; charset=utf-8';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEMO_DIR = path.resolve(here, '../../demo');

let built: Promise<{ snippet: BuiltAsset; module: BuiltAsset }> | null = null;

/** Builds the snippet bundles once per process, from source, so they are never stale. */
export function snippetAssets() {
  built ??= Promise.all([buildSnippet(), buildModule()]).then(([s, m]) => ({ snippet: builtAsset(s.js, JS), module: builtAsset(m, JS) }));
  return built;
}

export const assetRoutes: FastifyPluginAsync = async (app) => {
  const { snippet, module } = await snippetAssets();

  // The snippet loads on every customer's pages: cacheable by anyone, for an hour.
  const headers = { 'cache-control': 'public, max-age=3600', 'access-control-allow-origin': '*' };
  app.get('/f.js', { config: { access: 'public' } }, serveBuiltAsset(snippet, headers));
  app.get('/funnelbeam.mjs', { config: { access: 'public' } }, serveBuiltAsset(module, headers));

  // The demo shop is public; the static plugin takes no route config, so it is given here.
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, access: 'public' };
  });

  await app.register(fastifyStatic, { root: DEMO_DIR, prefix: '/demo/', decorateReply: false });
};
