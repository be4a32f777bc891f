// A file built in memory when the collector starts (the snippet, the dashboard), served with
// an ETag, gzip -9 made once, and the caller's headers.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface BuiltAsset {
  body: Buffer;
  gzip: Buffer;
  etag: string;
  type: string;
}

export function builtAsset(text: string, type: string): BuiltAsset {
  const body = Buffer.from(text);
  return {
    body,
    // gzip -9 once, at build: for the snippet, the size its budget is measured in is what visitors download.
    gzip: gzipSync(body, { level: 9 }),
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`,
    type,
  };
}

/** A route handler sending `asset` (304 on a matching ETag, gzip when accepted) with `headers`. */
export function serveBuiltAsset(asset: BuiltAsset, headers: Record<string, string>) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    reply.headers({ 'content-type': asset.type, etag: asset.etag, vary: 'accept-encoding', ...headers });
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    if (/\bgzip\b/.test(request.headers['accept-encoding'] ?? '')) return reply.header('content-encoding', 'gzip').send(asset.gzip);
    return reply.send(asset.body);
  };
}
