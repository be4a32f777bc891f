// WAL checkpoints copy committed pages into the database file and fsync it. Left to SQLite,
// they run inside whichever commit crosses the threshold, stalling the event loop for
// milliseconds; here a worker thread with its own connection runs them in the background.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
const checkpoint = (mode) => { try { db.pragma('wal_checkpoint(' + mode + ')'); } catch {} };
const timer = setInterval(() => checkpoint('PASSIVE'), workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  checkpoint('TRUNCATE');
  db.close();
  parentPort.postMessage('closed');
});
`;

export class Checkpointer {
  private readonly worker: Worker;

  constructor(file: string, intervalMs = 1000) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, file, intervalMs } });
    this.worker.unref();
  }

  /** A last full checkpoint, then the worker ends. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.worker.once('message', () => void this.worker.terminate().then(() => resolve()));
      this.worker.once('error', () => resolve());
      this.worker.postMessage('close');
    });
  }
}
