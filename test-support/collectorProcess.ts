// Starts the collector as `npm start` runs it, in a child process of its own, so that a test can
// stop it as an operator or a crash would (SIGTERM, kill -9).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export const PROCESS_ADMIN_TOKEN = 'process-admin-token';

export interface CollectorProcess {
  child: ChildProcess;
  url: string;
  /** fetch() against the collector with the admin token. */
  admin(pathname: string, init?: { method?: string; body?: unknown }): Promise<Response>;
}

const running: ChildProcess[] = [];

/** A collector on 127.0.0.1 (a free port) over `databaseUrl`, once it listens. */
export async function startCollectorProcess(databaseUrl: string, env: Record<string, string> = {}): Promise<CollectorProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'ingest/src/main.ts'], {
    env: {
      ...process.env, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: databaseUrl, ADMIN_TOKEN: PROCESS_ADMIN_TOKEN,
      RATE_LIMIT_PER_MINUTE: '0', LOG_LEVEL: 'silent', ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.push(child);
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const match = /listening on (http:\/\/\S+)/.exec(line);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`collector exited early with ${code}`)));
  });
  return {
    child,
    url,
    admin: (pathname, init = {}) => fetch(url + pathname, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: { authorization: `Bearer ${PROCESS_ADMIN_TOKEN}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    }),
  };
}

/** Resolves with the exit code once the process has exited (null after a signal). */
export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

/** Kills what a test left running (after each test). */
export function killCollectorProcesses(): void {
  for (const child of running.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
