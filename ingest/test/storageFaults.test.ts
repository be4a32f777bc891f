// A real storage fault under the collector: its database on a small tmpfs that fills up. The
// collector answers 503 with Retry-After, recovers by itself once space comes back, and loses
// nothing it acknowledged. (A read-only remount is refused by Linux while the collector holds
// the file open for writing, so "read-only" cannot happen under a running collector this way.)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { startCollector, type RunningCollector } from '../../test-support/collector.js';

const SITE = 'faults.example.com';
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-tmpfs-'));

function mount(options: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', mountPoint], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const remount = (options: string) => execFileSync('mount', ['-o', `remount,${options}`, mountPoint], { stdio: 'ignore' });

// Mounting needs root. CI runs as root, so there the test must run; elsewhere it says why it skips.
const mounted = mount('size=4m');
if (!mounted && process.env.CI) throw new Error('storage-fault tests need root to mount a tmpfs');

let collector: RunningCollector;
let sequence = 0;
const acknowledged = new Set<string>();

async function sendBatch(size = 50): Promise<Response> {
  const ids = Array.from({ length: size }, () => `f${sequence++}`);
  const body = ids.map((id) => ({
    site: SITE, name: 'pageview', url: `https://${SITE}/${'p'.repeat(400)}`, id, ts: Date.now(), props: { pad: 'x'.repeat(400) },
  }));
  const reply = await fetch(`${collector.url}/api/event`, {
    method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': CHROME }, body: JSON.stringify(body),
  });
  if (reply.status === 202) ids.forEach((id) => acknowledged.add(id));
  return reply;
}

describe.skipIf(!mounted)('storage faults', () => {
  beforeAll(async () => {
    collector = await startCollector({}, mountPoint);
    expect((await collector.admin('/api/sites', { body: { domain: SITE } })).status).toBe(201);
  });

  afterAll(async () => {
    await collector?.close();
    execFileSync('umount', [mountPoint]);
    fs.rmSync(mountPoint, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After when the disk is full, and recovers when space comes back', async () => {
    let reply = await sendBatch();
    for (let i = 0; i < 400 && reply.status === 202; i++) reply = await sendBatch();
    expect(reply.status).toBe(503);
    expect(reply.headers.get('retry-after')).toBe('5');
    expect((await sendBatch()).status).toBe(503);

    remount('size=64m');
    expect((await sendBatch()).status).toBe(202);
  }, 60_000);

  it('lost nothing it acknowledged', async () => {
    await collector.close();
    const db = new Database(path.join(mountPoint, 'funnelbeam.db'), { readonly: true });
    const stored = new Set((db.prepare('SELECT id FROM events').all() as { id: string }[]).map((r) => r.id));
    db.close();
    expect(acknowledged.size).toBeGreaterThan(100);
    expect([...acknowledged].filter((id) => !stored.has(id))).toEqual([]);
    expect(stored.size).toBe(acknowledged.size);
  });
});
