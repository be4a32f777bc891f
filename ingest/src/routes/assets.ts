// The snippet (/f.js, /funnelbeam.mjs) and the demo shop (/demo/).
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyPluginAsync } from 'fastify';
import fastifyStatic from '@fastify/static';
import { buildModule, buildSnippet } from '../../../snippet/build.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEMO_DIR = path.resolve(here, '../../demo');

interface Asset {
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

function asset(text: string): Asset {
  const body = Buffer.from(text);
  return {
    body,
    // gzip -9 once, at build: the size the budget is measured in is the size visitors download.
    gzip: gzipSync(body, { level: 9 }),
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`,
  };
}

let built: Promise<{ snippet: Asset; module: Asset }> | null = null;

/** Builds the snippet bundles once per process, from source, so they are never stale. */
export function snippetAssets() {
  built ??= Promise.all([buildSnippet(), buildModule()]).then(([s, m]) => ({ snippet: asset(s.js), module: asset(m) }));
  return built;
}

export const assetRoutes: FastifyPluginAsync = async (app) => {
  const { snippet, module } = await snippetAssets();

  const serve = (url: string, file: Asset) =>
    app.get(url, async (request, reply) => {
      reply
        .header('content-type', 'application/javascript; charset=utf-8')
        .header('cache-control', 'public, max-age=3600')
        .header('etag', file.etag)
        .header('vary', 'accept-encoding')
        .header('access-control-allow-origin', '*');
      if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
      if (/\bgzip\b/.test(request.headers['accept-encoding'] ?? '')) {
        return reply.header('content-encoding', 'gzip').send(file.gzip);
      }
      return reply.send(file.body);
    });
  serve('/f.js', snippet);
  serve('/funnelbeam.mjs', module);

  await app.register(fastifyStatic, { root: DEMO_DIR, prefix: '/demo/', decorateReply: false });
};
