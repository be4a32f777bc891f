// What the scale benchmarks ask of a running collector (bench/servers/collector.ts, admin
// token `bench`) over HTTP, as the dashboard and the snippet do, and the timing helpers they share.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { ID_MARK, startServer, type Server } from './load.js';
import { requestHeaders, snippetEvent } from './traffic.js';
import { DAY_MS, utcDay } from '../ingest/src/time.js';

export const SITE = 'shop.example.com';
const ADMIN = { authorization: 'Bearer bench' };

export const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
export const millis = (ms: number) => (ms < 1000 ? `${ms.toFixed(ms < 10 ? 1 : 0)} ms` : seconds(ms));
export const met = (ok: boolean) => (ok ? 'met' : 'NOT MET');

/** `from`/`to` of the report API (both days included): the last `days` UTC days up to today. */
export function lastDays(days: number, now = Date.now()): { from: string; to: string } {
  return { from: utcDay(now - (days - 1) * DAY_MS), to: utcDay(now) };
}

export interface ReportStep {
  name: string;
  entered: number;
  [field: string]: unknown;
}

export interface ReportBody {
  steps: ReportStep[];
  fresh_until: number | null;
  backfill: { done: number } | null;
  [field: string]: unknown;
}

export interface Reply<T> {
  status: number;
  body: T | null;
}

let sequence = 0;
/** An event id no other request of this process uses. */
export const freshId = () => `b${process.pid.toString(36)}-${Date.now().toString(36)}-${(sequence++).toString(36)}`;

/** A collector's HTTP API. */
export class CollectorClient {
  readonly base: string;

  constructor(readonly port: number) {
    this.base = `http://127.0.0.1:${port}`;
  }

  /** POSTs one event or a batch as the snippet does; returns the status (0: no answer). */
  async postEvents(body: unknown, headers: Record<string, string> = requestHeaders(5_000)): Promise<number> {
    try {
      const reply = await fetch(`${this.base}/api/event`, {
        method: 'POST', headers: { 'content-type': 'text/plain', ...headers }, body: JSON.stringify(body),
      });
      await reply.arrayBuffer();
      return reply.status;
    } catch {
      return 0;
    }
  }

  /** One snippet event (random visitor of 5,000, fresh id). */
  postSnippetEvent(): Promise<number> {
    return this.postEvents(JSON.parse(JSON.stringify(snippetEvent()).replaceAll(ID_MARK, freshId())));
  }

  report(id: string, range: { from: string; to: string }, breakdown?: string): Promise<Reply<ReportBody>> {
    const query = new URLSearchParams({ ...range, ...(breakdown ? { breakdown } : {}) });
    return this.request<ReportBody>('GET', `/api/sites/${SITE}/funnels/${id}/report?${query}`);
  }

  putFunnel(id: string, definition: unknown): Promise<Reply<unknown>> {
    return this.request('PUT', `/api/sites/${SITE}/funnels/${id}`, definition);
  }

  deleteFunnel(id: string): Promise<Reply<unknown>> {
    return this.request('DELETE', `/api/sites/${SITE}/funnels/${id}`);
  }

  leads(): Promise<Reply<{ total: number; leads: { lead: string }[] }>> {
    return this.request('GET', `/api/sites/${SITE}/leads?limit=500`);
  }

  /** An admin request; status 0 when the collector did not answer. */
  async request<T>(method: string, url: string, body?: unknown): Promise<Reply<T>> {
    try {
      const reply = await fetch(`${this.base}${url}`, {
        method,
        headers: { ...ADMIN, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await reply.text();
      return { status: reply.status, body: text ? (JSON.parse(text) as T) : null };
    } catch {
      return { status: 0, body: null };
    }
  }
}

/** Polls `attempt` until it returns true; returns when (performance.now()), or throws after `timeoutMs`. */
export async function until(attempt: () => Promise<boolean>, timeoutMs: number, what: string, intervalMs = 0): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await attempt()) return performance.now();
    if (performance.now() > deadline) throw new Error(`${what}: not within ${seconds(timeoutMs)}`);
    if (intervalMs > 0) await sleep(intervalMs);
  }
}

/** Runs `fn` and returns its result and how long it took (ms). */
export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await fn();
  return [result, performance.now() - started];
}

/** Peak resident set size of a process so far (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024;
}

/** A collector started by `startCollector`: when it was spawned, and its API. */
export interface Collector extends Server {
  spawnedAt: number;
  api: CollectorClient;
  /** kill -9, and waits for the process to be gone. */
  crash(): Promise<void>;
  /** A clean stop (SIGTERM), or kill -9 when it has not exited within `ms`. */
  stopWithin(ms: number): Promise<void>;
}

/** Starts bench/servers/collector.ts on `target` (a SQLite file or a clickhouse:// URL), pinned to `core`. */
export async function startCollector(target: string, core: number, env: Record<string, string> = {}): Promise<Collector> {
  const spawnedAt = performance.now();
  const server = await startServer('bench/servers/collector.ts', [target], core, env);
  const exited = () => server.process.exitCode !== null || server.process.signalCode !== null;
  const crash = () => new Promise<void>((resolve) => {
    if (exited()) return resolve();
    server.process.once('exit', () => resolve());
    server.process.kill('SIGKILL');
  });
  return {
    ...server,
    spawnedAt,
    api: new CollectorClient(server.port),
    crash,
    stopWithin: async (ms) => {
      if (exited()) return;
      const timer = setTimeout(() => void crash(), ms);
      await server.stop();
      clearTimeout(timer);
    },
  };
}

/** The machine's load averages, to print beside timing figures taken on a shared machine. */
export function loadAverage(): string {
  return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** Which source the collectors run: HEAD, and how many files under ingest/src differ from it (others' work in progress). */
export async function sourceVersion(): Promise<string> {
  const head = await commandOutput('git', ['rev-parse', '--short', 'HEAD']);
  const changed = (await commandOutput('git', ['status', '--porcelain', '--', 'ingest/src'])).split('\n').filter(Boolean).length;
  return `source at ${head || 'unknown'}${changed > 0 ? `, with ${changed} uncommitted changed files under ingest/src` : ''}`;
}

function commandOutput(command: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.on('close', () => resolve(out.trim()));
    child.on('error', () => resolve(''));
  });
}
