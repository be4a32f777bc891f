// The spool on a real directory: a write resolves once on disk, is shipped in order, and is
// deleted only once shipped; a failed shipment is tried again; a restart ships what a crash
// left (a torn last line skipped), with the same de-duplication keys.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SPOOL_OPTIONS, Spool, SpoolInUseError, readCommits } from '../../src/ingestion/spool.js';
import { QueueFullError } from '../../src/ingestion/writeQueue.js';
import type { WriteBatch } from '../../src/store/types.js';
import { storedEvent } from '../store/fixture.js';
import { exited } from '../../../test-support/collectorProcess.js';
import { ConfigError, readConfig } from '../../src/config.js';

const dirs: string[] = [];
function spoolDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-spool-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const event = (id: string | null, visitor = 'v') => storedEvent({ id, visitor, ts: 1_700_000_000_000, client_ts: 1_700_000_000_000 });
const segments = (dir: string) => fs.readdirSync(dir).filter((name) => name.startsWith('segment-')).sort();

/** A ship target that records what it was given, and fails while `failing` is set. */
function receiver() {
  const shipped: WriteBatch[] = [];
  const target = { failing: false, shipped, ship: async (batch: WriteBatch) => {
    if (target.failing) throw new Error('ClickHouse is out of reach');
    shipped.push(batch);
  } };
  return target;
}
const ids = (batches: WriteBatch[]) => batches.flatMap((b) => b.events.map((e) => e.id));
const options = { ...DEFAULT_SPOOL_OPTIONS, shipEveryMs: 20, onError: () => undefined };

describe('Spool', () => {
  it('resolves a write once it is in a file, ships writes in order in shipments of bounded size, and deletes what it shipped', async () => {
    const dir = spoolDir();
    const target = receiver();
    const spool = await Spool.open(dir, target.ship, { ...options, shipEveryMs: 60_000, eventsPerShipment: 3 });
    await spool.write({ events: [event('a'), event('b')], bots: [] });
    await spool.write({ events: [event('c'), event('d')], bots: [{ site: 'x', day: '2026-12-01', count: 2 }] });
    // On disk before any shipment: what a kill -9 now would leave for the next start.
    expect(target.shipped).toEqual([]);
    expect(readCommits(path.join(dir, segments(dir)[0])).flatMap((c) => c.events.map((e) => e.id))).toEqual(['a', 'b', 'c', 'd']);
    expect(spool.backlogBytes).toBeGreaterThan(0);
    await spool.drain();
    expect(ids(target.shipped)).toEqual(['a', 'b', 'c', 'd']);
    // Commits are merged up to 3 events: a+b, then c+d (a, b, c, d would split a commit).
    expect(target.shipped.map((b) => b.events.length)).toEqual([2, 2]);
    expect(target.shipped[1].bots).toEqual([{ site: 'x', day: '2026-12-01', count: 2 }]);
    expect(spool.backlogBytes).toBe(0);
    expect(segments(dir)).toHaveLength(1); // the (empty) segment being written
    await spool.close();
    expect(segments(dir)).toEqual([]);
  });

  it('keeps what a failed shipment held and ships it once the target is back', async () => {
    const dir = spoolDir();
    const target = receiver();
    target.failing = true;
    const spool = await Spool.open(dir, target.ship, options);
    for (const id of ['a', 'b', 'c']) await spool.write({ events: [event(id)], bots: [] });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(target.shipped).toEqual([]);
    expect(segments(dir).length).toBeGreaterThan(0);
    target.failing = false;
    await spool.drain();
    expect(ids(target.shipped)).toEqual(['a', 'b', 'c']);
    await spool.close();
  });

  it('starts a new segment past 16 MiB, so one read back at shipping stays bounded while the target is away', async () => {
    const dir = spoolDir();
    const target = receiver();
    target.failing = true;
    const spool = await Spool.open(dir, target.ship, { ...options, shipEveryMs: 60_000 });
    const big = { ...event('big'), props: { note: 'x'.repeat(1 << 20) } };
    for (let i = 0; i < 40; i++) await spool.write({ events: [{ ...big, id: `big-${i}` }], bots: [] });
    const sizes = segments(dir).map((name) => fs.statSync(path.join(dir, name)).size);
    expect(sizes.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...sizes)).toBeLessThan((16 << 20) + (2 << 20));
    target.failing = false;
    await spool.drain();
    expect(ids(target.shipped)).toEqual(Array.from({ length: 40 }, (_, i) => `big-${i}`));
    await spool.close();
  });

  it('ships after a restart what the last run left, skipping a line torn by the crash, with the keys it gave id-less events', async () => {
    const dir = spoolDir();
    const first = receiver();
    first.failing = true;
    const crashed = await Spool.open(dir, first.ship, options);
    await crashed.write({ events: [event('a'), event(null, 'anonymous')], bots: [] });
    const [segment] = segments(dir);
    const keys = readCommits(path.join(dir, segment))[0].keys;
    expect(keys[0]).toBe('ia');
    expect(keys[1]).toMatch(/^u[0-9a-f-]{36}$/);
    // A crash in the middle of the next append: never acknowledged, so it need not be shipped.
    fs.appendFileSync(path.join(dir, segment), '{"events":[{"id":"torn"');
    // A copy of the segment, as if it had been shipped and the crash came before its delete.
    fs.copyFileSync(path.join(dir, segment), path.join(dir, segment.replace(/\d{12}/, (n) => String(Number(n) - 1).padStart(12, '0'))));

    const second = receiver();
    const restarted = await Spool.open(dir, second.ship, options);
    await restarted.drain();
    await restarted.close();
    expect(ids(second.shipped)).toEqual(['a', null, 'a', null]);
    // Shipped twice, the id-less event keeps its key: ClickHouse reads keep its first copy only.
    expect(second.shipped.map((b) => b.keys)).toEqual([keys, keys]);
  });

  it('refuses writes past its size bound (the route answers 503)', async () => {
    const target = receiver();
    target.failing = true;
    const spool = await Spool.open(spoolDir(), target.ship, { ...options, maxBytes: 2_000 });
    await spool.write({ events: [event('a')], bots: [] });
    let refused: unknown = null;
    for (let i = 0; i < 10 && !refused; i++) await spool.write({ events: [event(`b${i}`)], bots: [] }).catch((error: unknown) => { refused = error; });
    expect(refused).toBeInstanceOf(QueueFullError);
    target.failing = false;
    await spool.close();
  });

  it('refuses a directory a living process holds, and takes over one whose holder died', async () => {
    const dir = spoolDir();
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      fs.writeFileSync(path.join(dir, 'lock'), String(holder.pid));
      await expect(Spool.open(dir, receiver().ship, options)).rejects.toBeInstanceOf(SpoolInUseError);
    } finally {
      holder.kill('SIGKILL');
      await exited(holder);
    }
    const spool = await Spool.open(dir, receiver().ship, options);
    await spool.close();
  });
});

describe('the spool settings', () => {
  it('take a directory for a ClickHouse collector only, and NORMAL or FULL', () => {
    const clickhouse = { DATABASE_URL: 'clickhouse://u:p@h:8123/db' };
    expect(readConfig({ ...clickhouse, SPOOL_DIR: '/var/spool/fb' })).toMatchObject({ spoolDir: '/var/spool/fb', spoolSynchronous: 'NORMAL' });
    expect(readConfig({ ...clickhouse, SPOOL_DIR: '/var/spool/fb', SPOOL_SYNCHRONOUS: 'full' }).spoolSynchronous).toBe('FULL');
    expect(readConfig(clickhouse).spoolDir).toBeNull();
    expect(() => readConfig({ ...clickhouse, SPOOL_SYNCHRONOUS: 'sometimes' })).toThrow(ConfigError);
    // SQLite commits on the machine already: a spool there would only add a copy.
    expect(() => readConfig({ SPOOL_DIR: '/var/spool/fb' })).toThrow(/SPOOL_DIR is for a collector on ClickHouse/);
  });
});
