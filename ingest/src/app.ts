// Builds the collector without listening: main.ts listens, tests listen on port 0.
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type RouteOptions } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import helmet from '@fastify/helmet';
import cookie from '@fastify/cookie';
import type { Config } from './config.js';
import type { Store } from './store/types.js';
import { openStore } from './store/open.js';
import { DEFAULT_SPOOL_OPTIONS, Spool } from './ingestion/spool.js';
import { WriteQueue } from './ingestion/writeQueue.js';
import { SiteRegistry } from './ingestion/siteRegistry.js';
import { DailySalt } from './ingestion/salts.js';
import { SessionTracker } from './ingestion/sessions.js';
import { eventRoutes } from './routes/event.js';
import { siteRoutes } from './routes/sites.js';
import { statsRoutes } from './routes/stats.js';
import { funnelRoutes } from './routes/funnels.js';
import { peopleRoutes } from './routes/people.js';
import { privacyRoutes } from './routes/privacy.js';
import { importRoutes } from './routes/import.js';
import { startRetentionJob } from './jobs/retention.js';
import { assetRoutes } from './routes/assets.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { accessGuard, auditTrail, requireAccessRules } from './routes/access.js';
import { sessionRoutes } from './routes/session.js';
import { userRoutes } from './routes/users.js';
import { keyRoutes } from './routes/keys.js';
import { shareRoutes } from './routes/shares.js';
import { auditRoutes } from './routes/audit.js';
import { Accounts } from './accounts/accounts.js';
import { LoginThrottle } from './accounts/loginThrottle.js';
import { CrmConnectors } from './crm/connectors.js';
import { integrationRoutes } from './routes/integrations.js';
import { leadRoutes } from './routes/leads.js';
import { heatmapAssetRoutes, heatmapRoutes } from './routes/heatmap.js';
import { WebhookSender } from './leads/sender.js';
import { DEFAULT_WEBHOOK_OPTIONS } from './leads/webhook.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    store: Store;
    queue: WriteQueue;
    sites: SiteRegistry;
    salts: DailySalt;
    sessions: SessionTracker;
    /** The owner's token (ADMIN_TOKEN): every permission, never throttled. */
    adminToken: string;
    accounts: Accounts;
    loginThrottle: LoginThrottle;
    crm: CrmConnectors;
    /** Every route registered, as `METHOD /url`: the access tests walk it. */
    routeTable: string[];
  }
}

/** How often a collector re-reads sites written by others sharing its database. */
const SITE_REFRESH_MS = 5_000;

export async function buildApp(config: Config, options: { store?: Store; logLevel?: string } = {}): Promise<FastifyInstance> {
  const store = options.store ?? (await openStore(config.databaseUrl, { sqliteSynchronous: config.sqliteSynchronous, clickhouseCluster: config.clickhouseCluster }));
  const adminToken = config.adminToken ?? (await store.setSettingOnce('admin_token', randomBytes(24).toString('base64url')));
  const sites = new SiteRegistry(store);
  await sites.load();
  sites.startRefreshing(SITE_REFRESH_MS);

  const app = Fastify({
    logger: options.logLevel ? { level: options.logLevel } : false,
    trustProxy: config.trustProxy,
    // Client input must never turn into a 5xx: malformed bodies and headers are 4xx.
    return503OnClosing: true,
  });
  app.decorate('routeTable', [] as string[]);
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    routes.push(route);
    for (const method of [route.method].flat()) if (method !== 'HEAD') app.routeTable.push(`${method} ${route.url}`);
  });
  // Checked once every plugin's own onRoute hooks have had their say (assets.ts sets the static plugin's).
  app.addHook('onReady', async () => routes.forEach(requireAccessRules));
  app.decorate('config', config);
  app.decorate('store', store);
  app.decorate('adminToken', adminToken);
  app.decorate('accounts', new Accounts(store));
  app.decorate('loginThrottle', new LoginThrottle(config.loginThrottle));
  const webhookOptions = { ...DEFAULT_WEBHOOK_OPTIONS, ...config.webhooks };
  app.decorate('crm', new CrmConnectors(store, config.crmApiUrls, webhookOptions));
  app.decorateRequest('principal', null);
  app.decorate('sites', sites);
  app.decorate('salts', new DailySalt(store));
  app.decorate('sessions', new SessionTracker());
  // With a spool, a commit is an append to a local file, shipped to the store behind the clients' backs.
  const spool = config.spoolDir
    ? await Spool.open(config.spoolDir, (batch) => store.write(batch), { ...DEFAULT_SPOOL_OPTIONS, flush: config.spoolSynchronous === 'FULL', onError: (err) => app.log.warn({ err }, 'shipping the spool failed, will retry') })
    : null;
  app.decorate('queue', spool
    ? new WriteQueue((batch) => spool.write(batch), { maxQueuedEvents: config.maxQueuedEvents })
    : new WriteQueue((batch) => store.write(batch), { maxQueuedEvents: config.maxQueuedEvents, maxGatherMs: store.commitGatherMs }));

  app.setErrorHandler<FastifyError>((error, request, reply) => {
    const status = error.statusCode ?? 500;
    // Storage out of reach (a ClickHouse shard down): a reply it could not complete, never a partial one.
    if (status === 503) {
      request.log.warn({ err: error }, 'storage unavailable');
      return reply.code(503).header('retry-after', '5').send({ error: 'storage is unavailable, retry later', field: null });
    }
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return reply.code(500).send({ error: 'internal error', field: null });
    }
    const field = error.validation?.[0]?.instancePath.replace(/^\//, '').replaceAll('/', '.')
      || (error.validation?.[0]?.params as { missingProperty?: string } | undefined)?.missingProperty
      || '(body)';
    return reply.code(status).send({ error: error.message, field });
  });

  if (config.rateLimitPerMinute > 0) {
    await app.register(rateLimit, { max: config.rateLimitPerMinute, timeWindow: 60_000 });
  }

  await app.register(eventRoutes);
  await app.register(assetRoutes);
  await app.register(heatmapAssetRoutes);
  await app.register(dashboardRoutes);
  await app.register(async (management) => {
    // Security headers on the management API, 401s included, so before the token check (the
    // dashboard sets its own, with its CSP; a beacon's reply is never rendered, so none there).
    await management.register(helmet, { contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } } });
    // Cookies are read here only: the event route, the hot path, parses none.
    await management.register(cookie);
    management.addHook('onRequest', accessGuard(app));
    management.addHook('onSend', auditTrail(app));
    await management.register(sessionRoutes);
    await management.register(userRoutes);
    await management.register(keyRoutes);
    await management.register(shareRoutes);
    await management.register(auditRoutes);
    await management.register(siteRoutes);
    await management.register(statsRoutes);
    await management.register(funnelRoutes);
    await management.register(peopleRoutes);
    await management.register(privacyRoutes);
    await management.register(importRoutes);
    await management.register(leadRoutes);
    await management.register(integrationRoutes);
    await management.register(heatmapRoutes);
  });

  app.get('/healthz', { config: { access: 'public' } }, async () => ({ ok: true }));

  const webhooks = new WebhookSender(store, webhookOptions, app.crm, (err) => app.log.warn({ err }, 'outbox delivery round failed'));
  webhooks.start();

  const stopRetention = startRetentionJob(app);
  // Commit what is queued before the store closes: nothing acknowledged may be lost.
  app.addHook('onClose', async () => {
    stopRetention();
    sites.stop();
    await webhooks.stop();
    await app.queue.close();
    // What cannot be shipped in time stays in the spool for the next start.
    await spool?.close();
    await store.close();
  });
  return app;
}
