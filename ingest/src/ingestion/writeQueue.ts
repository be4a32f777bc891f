// Group commit: events from concurrent requests share one store transaction. A request's
// promise settles only when the transaction holding its events has committed, so a 202 is
// never sent for an event that could still be lost.
import type { StoredEvent } from '../event.js';
import type { BotCount, WriteBatch } from '../store/types.js';

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class QueueFullError extends Error {
  constructor() {
    super('write queue is full');
  }
}

export class QueueClosedError extends Error {
  constructor() {
    super('collector is shutting down');
  }
}

export interface WriteQueueOptions {
  /**
   * Most events waiting for a commit; past it new writes are refused (the route answers 503),
   * which bounds both memory and the size of one transaction.
   */
  maxQueuedEvents: number;
  /**
   * How long a commit may wait for more writes to join it, at most, in ms (default 0). The wait
   * is a quarter of the last commit's duration, up to this: for a store whose commit is a round
   * trip to a server (ClickHouse), whose cost is per insert much more than per row.
   */
  maxGatherMs?: number;
}

export class WriteQueue {
  private events: StoredEvent[] = [];
  private bots = new Map<string, BotCount>();
  private waiters: Waiter[] = [];
  private flushing: Promise<void> | null = null;
  private scheduled = false;
  private closed = false;
  private lastCommitMs = 0;

  constructor(
    private readonly commit: (batch: WriteBatch) => Promise<void>,
    private readonly options: WriteQueueOptions,
  ) {}

  /** Queues events for the next commit; resolves once they are durable. */
  write(events: StoredEvent[]): Promise<void> {
    if (this.closed) return Promise.reject(new QueueClosedError());
    if (this.events.length + events.length > this.options.maxQueuedEvents) {
      return Promise.reject(new QueueFullError());
    }
    for (const event of events) this.events.push(event);
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  /** Counts dropped bots; they ride along with the next commit and nobody waits on them. */
  countBots(site: string, day: string, count: number): void {
    const key = `${site}\n${day}`;
    const entry = this.bots.get(key);
    if (entry) entry.count += count;
    else this.bots.set(key, { site, day, count });
    this.schedule();
  }

  /** Stops taking writes and commits everything already queued. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing || this.events.length > 0 || this.bots.size > 0) {
      if (this.flushing) await this.flushing;
      else await this.flush();
    }
  }

  // The first write after a commit waits two turns of the event loop (setImmediate): the
  // first lets every request parsed in the same I/O phase join, the second those that arrived
  // while the last commit ran (a busy collector answers its clients in two alternating cohorts
  // otherwise). A commit's fixed cost (WAL frames of the index pages, page headers) is then
  // shared by about 37 single events instead of 28 at 50 connections; an idle collector waits
  // microseconds. While a commit runs, new writes gather for the next one.
  // A store with `maxGatherMs` then waits a quarter of its last commit's duration: when a commit
  // takes 15 ms and more, the clients it answered send again within that wait, and one insert
  // takes both cohorts (twice the events for the same per-insert cost, each request waiting for
  // one insert instead of two).
  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      void this.flush();
    };
    setImmediate(() => setImmediate(() => {
      const wait = Math.min(this.options.maxGatherMs ?? 0, this.lastCommitMs / 4);
      if (wait >= 1) setTimeout(run, wait);
      else run();
    }));
  }

  private flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.events.length === 0 && this.bots.size === 0) return Promise.resolve();
    this.flushing = this.flushOnce().finally(() => {
      this.flushing = null;
      if (this.events.length > 0 || this.bots.size > 0) this.schedule();
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    const events = this.events;
    const waiters = this.waiters;
    const bots = [...this.bots.values()];
    this.events = [];
    this.waiters = [];
    this.bots = new Map();
    const started = performance.now();
    try {
      await this.commit({ events, bots });
      this.lastCommitMs = performance.now() - started;
      for (const waiter of waiters) waiter.resolve();
    } catch (error) {
      // Nothing of this batch was acknowledged, so refusing it loses nothing: clients retry.
      for (const waiter of waiters) waiter.reject(error);
    }
  }
}
