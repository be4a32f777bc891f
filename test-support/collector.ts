// Starts a real collector on 127.0.0.1 with a real SQLite file in a temp dir, for tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../ingest/src/app.js';
import { defaultConfig, type Config } from '../ingest/src/config.js';

/** A desktop Chrome's user agent: events sent as it are a person's, not a bot's. */
export const DESKTOP_CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36';

export interface RunningCollector {
  app: FastifyInstance;
  url: string;
  token: string;
  dbFile: string;
  dir: string;
  /** fetch() against the collector with the admin token. */
  admin(pathname: string, init?: { method?: string; body?: unknown }): Promise<Response>;
  /** Posts events to /api/event as a desktop Chrome would, 100 a request; throws unless each is taken (202). */
  sendEvents(events: readonly object[]): Promise<void>;
  close(): Promise<void>;
}

export async function startCollector(overrides: Partial<Config> = {}, dir?: string): Promise<RunningCollector> {
  const workDir = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-test-'));
  const dbFile = path.join(workDir, 'funnelbeam.db');
  const config = defaultConfig({
    port: 0,
    databaseUrl: `sqlite:${dbFile}`,
    adminToken: 'test-admin-token',
    rateLimitPerMinute: 0,
    // Test workers share two cores, so the event loop lags now and then; shedding on lag is
    // tested on its own (ingest/test/overload.test.ts), elsewhere it would only make noise.
    maxEventLoopDelayMs: 0,
    ...overrides,
  });
  const app = await buildApp(config);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    app,
    url,
    token: app.adminToken,
    dbFile,
    dir: workDir,
    admin: (pathname, init = {}) =>
      fetch(url + pathname, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: {
          authorization: `Bearer ${app.adminToken}`,
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      }),
    sendEvents: async (events) => {
      for (let i = 0; i < events.length; i += 100) {
        const reply = await fetch(`${url}/api/event`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain', 'user-agent': DESKTOP_CHROME },
          body: JSON.stringify(events.slice(i, i + 100)),
        });
        if (reply.status !== 202) throw new Error(`POST /api/event answered ${reply.status}: ${await reply.text()}`);
      }
    },
    close: async () => {
      await app.close();
      if (!dir) fs.rmSync(workDir, { recursive: true, force: true });
    },
  };
}
