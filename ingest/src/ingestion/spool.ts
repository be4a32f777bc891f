// A collector's local spool in front of ClickHouse (SPOOL_DIR): a group commit is acknowledged
// once it is appended to a file of this machine (and flushed to its disk with
// SPOOL_SYNCHRONOUS=FULL), and shipped to ClickHouse in large inserts behind the clients' backs.
// ClickHouse costs an insert per commit (a part on disk: 150 ms on a slow disk) however few
// events it holds, so single events, each waiting for their own insert, ran at a tenth of
// SQLite's rate; an append costs about what a SQLite commit does. The price: an acknowledged
// event sits on this machine until it is shipped (a fraction of a second; longer while
// ClickHouse is out of reach), so the collector needs its own disk, kept across restarts, and
// reports see the event a little later.
//
// Files: `segment-<seq>.jsonl`, a line per commit ({events, bots, keys}). The writer appends to
// the newest; the shipper closes it, ships the closed ones oldest first, and deletes each one
// only once ClickHouse has acknowledged it all. A segment shipped again (a crash between the
// insert and the delete) is stored once: every event carries a de-duplication key fixed here
// (`keys`), and ClickHouse reads keep an event's first copy. A line cut short by a crash was
// never acknowledged, and is skipped.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WriteBatch } from '../store/types.js';
import { dedupeKeyOf } from '../store/clickhouse/index.js';
import { QueueFullError } from './writeQueue.js';

export interface SpoolOptions {
  /**
   * Whether each commit is flushed to the disk (fdatasync) before it is acknowledged: without,
   * it survives a crash of the process (kill -9: the kernel has it), as SQLite's default does;
   * with, a power loss too, at 0.3–0.4 ms per commit on this project's machine.
   */
  flush: boolean;
  /** Bytes spooled and not yet shipped, past which writes are refused (the route answers 503). */
  maxBytes: number;
  /** How often what was spooled is shipped (ms). */
  shipEveryMs: number;
  /** Events per insert at most. */
  eventsPerShipment: number;
  /** Told of a failed shipment (ClickHouse out of reach): it is tried again, later and later. */
  onError: (error: unknown) => void;
}

export const DEFAULT_SPOOL_OPTIONS: Omit<SpoolOptions, 'onError'> = {
  flush: false,
  maxBytes: 1 << 30,
  shipEveryMs: 200,
  eventsPerShipment: 20_000,
};

const SEGMENT = /^segment-(\d{12})\.jsonl$/;
/** A segment is closed past this size, so one read back at shipping stays small (ClickHouse away for long). */
const MAX_SEGMENT_BYTES = 16 << 20;
const LOCK = 'lock';
const MAX_BACKOFF_MS = 30_000;

/** One commit as spooled: the batch, with the key of each event (see the header). */
interface SpooledCommit extends WriteBatch {
  keys: string[];
}

export class SpoolInUseError extends Error {}

export class Spool {
  private current: fs.promises.FileHandle | null = null;
  private currentSeq = 0;
  private currentBytes = 0;
  /** Closed segments waiting to be shipped, oldest first, with their sizes. */
  private readonly closed: { seq: number; bytes: number }[] = [];
  private appending: Promise<void> = Promise.resolve();
  private shipping: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private nextAttempt = 0;
  private stopped = false;

  private constructor(
    private readonly dir: string,
    private readonly ship: (batch: WriteBatch) => Promise<void>,
    private readonly options: SpoolOptions,
  ) {}

  /**
   * Opens the spool in `dir` (made if missing), taking over what a previous run left unshipped.
   * Refuses a directory another living process holds: two collectors must not share a spool.
   */
  static async open(dir: string, ship: (batch: WriteBatch) => Promise<void>, options: SpoolOptions): Promise<Spool> {
    fs.mkdirSync(dir, { recursive: true });
    claimLock(dir);
    const spool = new Spool(dir, ship, options);
    for (const name of fs.readdirSync(dir).sort()) {
      const match = SEGMENT.exec(name);
      if (match) spool.closed.push({ seq: Number(match[1]), bytes: fs.statSync(path.join(dir, name)).size });
    }
    spool.currentSeq = (spool.closed.at(-1)?.seq ?? 0) + 1;
    spool.current = await fs.promises.open(spool.segmentPath(spool.currentSeq), 'a');
    spool.timer = setInterval(() => void spool.shipSoon(), options.shipEveryMs);
    spool.timer.unref();
    return spool;
  }

  /** Bytes spooled and not yet shipped. */
  get backlogBytes(): number {
    return this.currentBytes + this.closed.reduce((sum, segment) => sum + segment.bytes, 0);
  }

  /** Appends one commit (flushed to the disk with `flush`); resolves once it would survive a crash. */
  write(batch: WriteBatch): Promise<void> {
    if (this.stopped) return Promise.reject(new Error('spool is closed'));
    const commit: SpooledCommit = { ...batch, keys: batch.events.map((e, i) => batch.keys?.[i] ?? dedupeKeyOf(e)) };
    const line = Buffer.from(`${JSON.stringify(commit)}\n`);
    if (this.backlogBytes + line.length > this.options.maxBytes) return Promise.reject(new QueueFullError());
    const appended = this.appending.then(async () => {
      await this.current!.write(line);
      if (this.options.flush) await this.current!.datasync();
      this.currentBytes += line.length;
      if (this.currentBytes >= MAX_SEGMENT_BYTES) await this.nextSegment();
    });
    this.appending = appended.catch(() => undefined);
    return appended;
  }

  /** Ships everything spooled so far (waiting for ClickHouse as long as it takes). */
  async drain(): Promise<void> {
    for (;;) {
      await this.shipSoon(true);
      if (this.backlogBytes === 0) return;
      await sleep(100);
    }
  }

  /** Stops taking writes, ships what it can within `withinMs`; the rest waits on disk for the next start. */
  async close(withinMs = 10_000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.appending;
    const deadline = Date.now() + withinMs;
    while (this.backlogBytes > 0 && Date.now() < deadline) {
      await this.shipSoon(true);
      if (this.backlogBytes > 0) await sleep(100);
    }
    await this.shipping;
    await this.current?.close();
    this.current = null;
    if (this.currentBytes === 0) fs.rmSync(this.segmentPath(this.currentSeq), { force: true });
    fs.rmSync(path.join(this.dir, LOCK), { force: true });
  }

  private segmentPath(seq: number): string {
    return path.join(this.dir, `segment-${String(seq).padStart(12, '0')}.jsonl`);
  }

  /** One round of shipping (or the round under way). `now` ignores the back-off after failures. */
  private shipSoon(now = false): Promise<void> {
    if (this.shipping) return this.shipping;
    if (!now && Date.now() < this.nextAttempt) return Promise.resolve();
    this.shipping = this.shipOnce()
      .then(() => { this.failures = 0; this.nextAttempt = 0; })
      .catch((error: unknown) => {
        this.failures++;
        this.nextAttempt = Date.now() + Math.min(MAX_BACKOFF_MS, 250 * 2 ** this.failures);
        this.options.onError(error);
      })
      .finally(() => { this.shipping = null; });
    return this.shipping;
  }

  private async shipOnce(): Promise<void> {
    if (this.currentBytes > 0) await this.rotate();
    while (this.closed.length > 0) {
      const segment = this.closed[0];
      const file = this.segmentPath(segment.seq);
      for (const batch of shipments(readCommits(file), this.options.eventsPerShipment)) await this.ship(batch);
      fs.rmSync(file, { force: true });
      this.closed.shift();
    }
  }

  /** Closes the segment being written (between two appends) and starts the next. */
  private async rotate(): Promise<void> {
    const turn = this.appending.then(() => this.nextSegment());
    this.appending = turn.catch(() => undefined);
    await turn;
  }

  /** Only in the appending chain: no append is under way. */
  private async nextSegment(): Promise<void> {
    const next = await fs.promises.open(this.segmentPath(this.currentSeq + 1), 'a');
    await this.current!.close();
    this.closed.push({ seq: this.currentSeq, bytes: this.currentBytes });
    this.current = next;
    this.currentSeq++;
    this.currentBytes = 0;
  }
}

/** Takes the directory's lock, or throws when a living process holds it (a dead one's is taken over). */
function claimLock(dir: string): void {
  const lock = path.join(dir, LOCK);
  try {
    const holder = Number(fs.readFileSync(lock, 'utf8'));
    if (holder !== process.pid && isAlive(holder)) {
      throw new SpoolInUseError(`spool ${dir} is in use by process ${holder}: give each collector its own SPOOL_DIR`);
    }
  } catch (error) {
    if (error instanceof SpoolInUseError) throw error;
  }
  fs.writeFileSync(lock, String(process.pid));
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The commits of a segment; a last line cut short by a crash (never acknowledged) is skipped. */
export function readCommits(file: string): SpooledCommit[] {
  const text = fs.readFileSync(file, 'utf8');
  const commits: SpooledCommit[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      commits.push(JSON.parse(line) as SpooledCommit);
    } catch {
      // A torn append: only ever the last line, and its commit was not acknowledged.
    }
  }
  return commits;
}

/** Commits merged into inserts of at most `eventsPer` events (bots ride along). */
function* shipments(commits: SpooledCommit[], eventsPer: number): Generator<WriteBatch> {
  let batch: Required<WriteBatch> = { events: [], bots: [], keys: [] };
  for (const commit of commits) {
    if (batch.events.length > 0 && batch.events.length + commit.events.length > eventsPer) {
      yield batch;
      batch = { events: [], bots: [], keys: [] };
    }
    batch.events.push(...commit.events);
    batch.keys.push(...commit.keys);
    batch.bots.push(...commit.bots);
  }
  if (batch.events.length > 0 || batch.bots.length > 0) yield batch;
}
