// Shared pieces of the snippet's browser tests: a browser per file, a server per file, and the
// exact shape of an event on the wire.
import { expect } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { launchChromium, type LaunchOptions } from '../../test-support/browser';
import { buildSnippet, buildModule } from '../build';
import { startTestServer, type TestServer } from './server';

export type WireEvent = Record<string, unknown>;

export interface Harness {
  browser: Browser;
  server: TestServer;
  close(): Promise<void>;
}

export async function startHarness(launch?: LaunchOptions): Promise<Harness> {
  const [{ js }, module] = await Promise.all([buildSnippet(), buildModule()]);
  const [browser, server] = await Promise.all([
    launchChromium(launch),
    startTestServer({ js, module }),
  ]);
  return {
    browser,
    server,
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}

/**
 * Polls until `count` events matching `keep` arrived, waits `settle` ms for strays, and returns
 * them in the order the pages made them (by ts, which the snippet keeps strictly increasing
 * within a page): parallel requests may arrive in any order.
 */
export async function waitForEvents(
  server: TestServer,
  count: number,
  keep: (e: WireEvent) => boolean = (e) => e.name != 'engagement',
  settle = 400,
): Promise<WireEvent[]> {
  const deadline = Date.now() + 10_000;
  while (server.events().filter(keep).length < count) {
    if (Date.now() > deadline) {
      throw new Error(
        `expected ${count} events, got ${JSON.stringify(server.events().filter(keep), null, 1)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  await new Promise((r) => setTimeout(r, settle));
  return server
    .events()
    .filter(keep)
    .sort((a, b) => (a.ts as number) - (b.ts as number));
}

/** The exact wire event: fixed fields as given, generated ones (id, ts, session) as patterns. */
export function wire(origin: string, name: string, path: string, fields: WireEvent = {}): WireEvent {
  return {
    site: 'test.funnelbeam.local',
    name,
    url: origin + path,
    referrer: '',
    id: expect.stringMatching(/^\d{13}[0-9a-z]{1,16}$/),
    ts: expect.any(Number),
    session: expect.stringMatching(/^[0-9a-z]{4,16}$/),
    wd: true,
    ...fields,
  };
}

/** A fresh context: its own sessionStorage and localStorage, like a new visitor. */
export function newContext(h: Harness): Promise<BrowserContext> {
  return h.browser.newContext();
}
