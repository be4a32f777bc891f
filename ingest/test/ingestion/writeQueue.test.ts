// Group commit: concurrent writes share a transaction, and none resolves before its commit.
import { describe, expect, it, vi } from 'vitest';
import { QueueClosedError, QueueFullError, WriteQueue } from '../../src/ingestion/writeQueue.js';
import type { StoredEvent } from '../../src/event.js';
import type { WriteBatch } from '../../src/store/types.js';

const event = (id: string) => ({ id }) as unknown as StoredEvent;

/** A store whose commits the test settles by hand. */
function manualStore() {
  const commits: { batch: WriteBatch; settle: (error?: Error) => void }[] = [];
  const commit = (batch: WriteBatch) => new Promise<void>((resolve, reject) => {
    commits.push({ batch, settle: (error) => (error ? reject(error) : resolve()) });
  });
  return { commits, commit };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
async function turns(n: number) {
  for (let i = 0; i < n; i++) await turn();
}

describe('WriteQueue', () => {
  it('commits concurrent writes together and resolves them only after the commit', async () => {
    const { commits, commit } = manualStore();
    const queue = new WriteQueue(commit, { maxQueuedEvents: 100 });
    let resolved = 0;
    const writes = [queue.write([event('a')]), queue.write([event('b'), event('c')])].map((w) => w.then(() => resolved++));
    await turns(4);
    expect(commits).toHaveLength(1);
    expect(commits[0].batch.events.map((e) => e.id)).toEqual(['a', 'b', 'c']);
    expect(resolved).toBe(0);
    commits[0].settle();
    await Promise.all(writes);
    expect(resolved).toBe(2);
  });

  it('gathers the writes made while a commit runs into the next one', async () => {
    const { commits, commit } = manualStore();
    const queue = new WriteQueue(commit, { maxQueuedEvents: 100 });
    const first = queue.write([event('a')]);
    await turns(4);
    const second = queue.write([event('b')]);
    const third = queue.write([event('c')]);
    await turns(4);
    expect(commits).toHaveLength(1);
    commits[0].settle();
    await first;
    await turns(4);
    expect(commits).toHaveLength(2);
    expect(commits[1].batch.events.map((e) => e.id)).toEqual(['b', 'c']);
    commits[1].settle();
    await Promise.all([second, third]);
  });

  it('refuses every write of a failed commit, and commits the next ones anew', async () => {
    const { commits, commit } = manualStore();
    const queue = new WriteQueue(commit, { maxQueuedEvents: 100 });
    const failing = [queue.write([event('a')]), queue.write([event('b')])];
    await turns(4);
    commits[0].settle(new Error('disk full'));
    for (const write of failing) await expect(write).rejects.toThrow('disk full');
    const later = queue.write([event('c')]);
    await turns(4);
    expect(commits[1].batch.events.map((e) => e.id)).toEqual(['c']);
    commits[1].settle();
    await later;
  });

  it('refuses writes past its capacity and after close, and close commits what is queued', async () => {
    const { commits, commit } = manualStore();
    const queue = new WriteQueue(commit, { maxQueuedEvents: 2 });
    await expect(queue.write([event('a'), event('b'), event('c')])).rejects.toBeInstanceOf(QueueFullError);
    const queued = queue.write([event('a'), event('b')]);
    const closing = queue.close();
    await expect(queue.write([event('c')])).rejects.toBeInstanceOf(QueueClosedError);
    await turns(2);
    commits[0].settle();
    await queued;
    await closing;
    expect(commits.flatMap((c) => c.batch.events.map((e) => e.id))).toEqual(['a', 'b']);
  });

  it('with maxGatherMs, waits a quarter of the last commit for the clients it answered', async () => {
    // Fake clocks: the commit "takes" 20 ms, so the next one waits 5 ms; event-loop turns stay real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const { commits, commit } = manualStore();
      const queue = new WriteQueue(commit, { maxQueuedEvents: 100, maxGatherMs: 40 });
      const first = queue.write([event('a')]);
      await turns(4);
      const second = queue.write([event('b')]);
      vi.advanceTimersByTime(20);
      commits[0].settle();
      await first;
      await turns(4);
      // The answered client sends again after the queue took its turns: it still joins.
      const third = queue.write([event('c')]);
      await turns(4);
      expect(commits).toHaveLength(1);
      vi.advanceTimersByTime(5);
      await turns(4);
      expect(commits).toHaveLength(2);
      expect(commits[1].batch.events.map((e) => e.id)).toEqual(['b', 'c']);
      commits[1].settle();
      await Promise.all([second, third]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('counts bots with the next commit, without a waiter', async () => {
    const { commits, commit } = manualStore();
    const queue = new WriteQueue(commit, { maxQueuedEvents: 10 });
    queue.countBots('shop.example.com', '2026-01-01', 1);
    queue.countBots('shop.example.com', '2026-01-01', 2);
    await turns(4);
    expect(commits[0].batch.bots).toEqual([{ site: 'shop.example.com', day: '2026-01-01', count: 3 }]);
    commits[0].settle();
  });
});
