// Load generation and process measurement shared by the benchmarks.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

export interface Server {
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `tsx script args` pinned to one core, and waits for the port it prints. */
export async function startServer(script: string, args: string[], core: number, env: Record<string, string> = {}): Promise<Server> {
  // BENCH_PROFILE=dir writes a --cpu-prof of each server there, sampled every
  // BENCH_PROFILE_INTERVAL µs (V8's default is 1000: too coarse to split a 30 µs request).
  const profile = process.env.BENCH_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`, `--cpu-prof-interval=${process.env.BENCH_PROFILE_INTERVAL ?? 1000}`]
    : [];
  const child = spawn('taskset', ['-c', String(core), process.execPath, ...profile, '--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  const { port } = JSON.parse(line) as { port: number };
  return {
    port,
    process: child,
    stop: () => new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU seconds used so far by every process but the given ones: other work on a shared machine,
 * which slows a round down without being the server's doing.
 */
export function othersCpuSeconds(except: ReadonlySet<number>): Map<number, number> {
  const used = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || except.has(Number(entry))) continue;
    try {
      used.set(Number(entry), cpuSeconds(Number(entry)));
    } catch {
      // The process ended meanwhile.
    }
  }
  return used;
}

/** Resident set size now, in MiB. */
export function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  acknowledged: number;
  serverCpu: number;
  serverPeakRssMiB: number;
  /** Cores' worth of CPU that other processes used during the round (0.1: a tenth of a core). */
  othersCpu: number;
}

/** Marks where each request gets a fresh event id, so a pooled body is never a duplicate. */
export const ID_MARK = '@ID@';

/**
 * Drives `connections` keep-alive connections for `seconds`. Requests come from a pool of
 * `pool` made up front by `body()` and `headers()` (only ids are filled in per request), so
 * the load generator spends its core on sending.
 */
export async function drive(server: Server, options: {
  seconds: number;
  connections: number;
  pool: number;
  body: () => string;
  headers: () => Record<string, string>;
}): Promise<LoadResult> {
  const requests = Array.from({ length: options.pool }, () => ({
    headers: { 'content-type': 'text/plain', ...options.headers() },
    body: options.body(),
  }));
  let next = 0;
  let id = 0;
  const run = Date.now().toString(36);
  const freshId = () => `${run}-${(id++).toString(36)}`;
  const pid = server.process.pid!;
  const mine = new Set([pid, process.pid, process.ppid]);
  const othersBefore = othersCpuSeconds(mine);
  const cpuBefore = cpuSeconds(pid);
  let peakRss = rssMiB(pid);
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssMiB(pid)); }, 250);
  const started = performance.now();
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}/api/event`,
    method: 'POST',
    connections: options.connections,
    duration: options.seconds,
    requests: [{
      method: 'POST',
      setupRequest: (request) => {
        const made = requests[next++ % requests.length];
        return { ...request, headers: made.headers, body: made.body.replaceAll(ID_MARK, freshId) };
      },
    }],
  });
  const elapsed = (performance.now() - started) / 1000;
  clearInterval(sampler);
  let others = 0;
  for (const [other, seconds] of othersCpuSeconds(mine)) others += seconds - (othersBefore.get(other) ?? seconds);
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    acknowledged: result['2xx'],
    serverCpu: (cpuSeconds(pid) - cpuBefore) / elapsed,
    serverPeakRssMiB: peakRss,
    othersCpu: others / elapsed,
  };
}
