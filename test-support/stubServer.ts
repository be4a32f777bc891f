// The HTTP plumbing shared by the stand-ins for third-party APIs (hubspotStub.ts,
// pipedriveStub.ts): a server on 127.0.0.1 that records every request and answers queued
// failures first (failNext), else as the stand-in says.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path with its query string, as the client sent it. */
  path: string;
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Parsed JSON; the raw text when it was not JSON (so a test sees what went wrong); null if empty. */
  body: unknown;
}

export interface StubReply {
  status: number;
  headers?: Record<string, string>;
  /** Sent as JSON, or as-is when it is a string; no body when left out. */
  body?: unknown;
}

export interface StubServer {
  /** Base URL, e.g. http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  requests: RecordedRequest[];
  /** Replies to give the next requests instead of the normal answer, one each, in order. */
  failNext(...replies: StubReply[]): void;
  close(): Promise<void>;
}

export async function startStubServer(answer: (request: RecordedRequest, url: URL) => StubReply, contentType: string): Promise<StubServer> {
  const requests: RecordedRequest[] = [];
  const queued: StubReply[] = [];
  const server = http.createServer((request, response) => {
    readBody(request).then((raw) => {
      const recorded = record(request, raw);
      requests.push(recorded);
      send(response, queued.shift() ?? answer(recorded, new URL(recorded.path, 'http://stub')), contentType);
    }, () => response.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    failNext: (...replies) => void queued.push(...replies),
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      // fetch keeps connections alive; close() alone would wait for them to time out.
      server.closeAllConnections();
    }),
  };
}

export function asRecord(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function readBody(request: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function record(request: http.IncomingMessage, raw: string): RecordedRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  let body: unknown = null;
  if (raw !== '') {
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
  }
  return { method: request.method ?? 'GET', path: request.url ?? '/', headers, body };
}

function send(response: http.ServerResponse, reply: StubReply, contentType: string): void {
  response.statusCode = reply.status;
  for (const [name, value] of Object.entries(reply.headers ?? {})) response.setHeader(name, value);
  if (reply.body === undefined) return void response.end();
  if (!response.hasHeader('content-type')) response.setHeader('content-type', contentType);
  response.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
}
