// The collector as `npm start` runs it, on a fresh SQLite file, with one site registered.
import { buildApp } from '../../ingest/src/app.js';
import { defaultConfig } from '../../ingest/src/config.js';

// A file (SQLite), or a full DATABASE_URL (clickhouse://…); SPOOL_DIR spools a ClickHouse collector's events.
const target = process.argv[2];
const app = await buildApp(defaultConfig({
  databaseUrl: target.includes('://') ? target : `sqlite:${target}`,
  adminToken: 'bench',
  spoolDir: process.env.SPOOL_DIR || null,
  rateLimitPerMinute: 0,
  // The load generator sends X-Forwarded-For so that visitors are distinct, as real traffic is.
  trustProxy: true,
  // The overload scenario caps the queue lower, to show it shedding.
  ...(process.env.MAX_QUEUED_EVENTS ? { maxQueuedEvents: Number(process.env.MAX_QUEUED_EVENTS) } : {}),
}));
await app.store.createSite({ domain: 'shop.example.com', origins: ['https://shop.example.com'], allowedParams: [], createdAt: Date.now() });
await app.sites.load();
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
