// A tiny real HTTP server for the snippet's browser tests: serves the built /f.js, the demo
// shop under /demo/, the fixtures under /fx/, and records every POST to /api/event.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';

const here = fileURLToPath(new URL('.', import.meta.url));
const roots: Record<string, string> = {
  '/demo/': join(here, '../../ingest/demo'),
  '/fx/': join(here, 'fixtures'),
};
const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
};

export interface Received {
  /** Order of arrival of the request. */
  request: number;
  headers: IncomingHttpHeaders;
  /** The parsed body: always an array of events with this snippet. */
  body: unknown;
  status: number;
}

export interface TestServer {
  origin: string;
  requests: Received[];
  /** Every event received, in order, flattened out of the request bodies. */
  events(): Record<string, unknown>[];
  /** Answer the next `count` event requests with this status (503: storage busy). */
  failNext(count: number, status?: number): void;
  close(): Promise<void>;
}

/** `files`: more built scripts, by path (the heatmap capture at /f-heatmaps.js). */
export async function startTestServer(snippet: { js: string; module?: string; files?: Record<string, string> }): Promise<TestServer> {
  const requests: Received[] = [];
  let failures = 0;
  let failStatus = 503;

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method == 'POST' && url.pathname == '/api/event') {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const status = failures > 0 ? (failures--, failStatus) : 202;
      requests.push({
        request: requests.length,
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
        status,
      });
      res.writeHead(status, status == 503 ? { 'Retry-After': '1' } : {});
      return res.end();
    }
    if (req.method == 'OPTIONS') {
      // The snippet must never need a CORS preflight; answer so a test can see if one came.
      requests.push({ request: requests.length, headers: req.headers, body: 'PREFLIGHT', status: 204 });
      res.writeHead(204);
      return res.end();
    }
    const file = snippet.files?.[url.pathname];
    if (file !== undefined) {
      res.writeHead(200, { 'Content-Type': 'text/javascript' });
      return res.end(file);
    }
    if (url.pathname == '/f.js' || url.pathname == '/funnelbeam.mjs') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' });
      return res.end(url.pathname == '/f.js' ? snippet.js : snippet.module);
    }
    for (const [prefix, root] of Object.entries(roots)) {
      if (!url.pathname.startsWith(prefix)) continue;
      let path = normalize(url.pathname.slice(prefix.length));
      if (path.startsWith('..')) break;
      if (path == '.' || path.endsWith('/')) path = join(path, 'index.html');
      try {
        const content = await readFile(join(root, path));
        res.writeHead(200, { 'Content-Type': types[extname(path)] ?? 'application/octet-stream' });
        return res.end(content);
      } catch {
        break;
      }
    }
    res.writeHead(404);
    res.end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    events: () =>
      requests.flatMap((r) => (Array.isArray(r.body) ? (r.body as Record<string, unknown>[]) : [])),
    failNext(count, status = 503) {
      failures = count;
      failStatus = status;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
