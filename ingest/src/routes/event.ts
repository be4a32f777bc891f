// POST /api/event: validate → drop bots → enrich → group commit → 202.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import cors from '@fastify/cors';
import underPressure from '@fastify/under-pressure';
import type { StoredEvent } from '../event.js';
import type { Site } from '../store/types.js';
import { validateEvents } from '../ingestion/eventSchema.js';
import { enrichEvent, RequestContext } from '../ingestion/enrichEvent.js';
import { QueueClosedError, QueueFullError } from '../ingestion/writeQueue.js';
import { isBot } from '../enrich/bots.js';
import { utcDay } from '../time.js';

/** A batch of 100 full events fits with room to spare; more is refused with 413. */
export const EVENT_BODY_LIMIT = 256 * 1024;

function refuse(reply: FastifyReply, code: number, error: string, field: string) {
  return reply.code(code).send({ error, field });
}

export const eventRoutes: FastifyPluginAsync = async (app) => {
  // sendBeacon and the snippet send text/plain (no CORS preflight); the body is JSON all the
  // same, parsed by Fastify's own hardened parser (it refuses __proto__ and constructor keys).
  app.addContentTypeParser('text/plain', { parseAs: 'string', bodyLimit: EVENT_BODY_LIMIT },
    app.getDefaultJsonParser('error', 'error'));

  // More traffic than the CPU can take shows as event-loop lag: shed it at the door with a 503
  // (clients retry) instead of queueing requests until every one of them times out.
  if (app.config.maxEventLoopDelayMs > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: app.config.maxEventLoopDelayMs,
      sampleInterval: app.config.eventLoopSampleMs,
      pressureHandler: (_request, reply) => {
        reply.code(503).header('retry-after', '1').send({ error: 'the collector is overloaded, retry later', field: '(body)' });
      },
    });
  }

  await app.register(cors, {
    // An origin not seen yet may be a site's just added through another collector: read first.
    origin: (origin, done) => {
      if (origin === undefined || app.sites.admitsOrigin(origin)) return done(null, true);
      app.sites.admitsOriginFresh(origin).then((admitted) => done(null, admitted), (error: Error) => done(error, false));
    },
    methods: ['POST'],
    maxAge: 86_400,
  });

  // Per request, not per event: the bot check, the salt, the client's address and the site
  // lookup are shared by every event of a batch.
  const dropAutomated = !app.config.acceptAutomatedBrowsers;
  const botOptions = { allowHeadless: !dropAutomated };

  app.post('/api/event', { bodyLimit: EVENT_BODY_LIMIT, config: { access: 'public' } }, async (request, reply) => {
    const checked = validateEvents(request.body);
    if ('error' in checked) return refuse(reply, 400, checked.error, checked.field);

    const origin = request.headers.origin;
    const userAgent = request.headers['user-agent'] ?? '';
    const receivedAt = Date.now();
    const bot = isBot(userAgent, botOptions);
    const today = app.salts.forTime(receivedAt);
    const salt = typeof today === 'string' ? today : await today;
    const context = new RequestContext(request.ip, userAgent, receivedAt, salt, app.sessions);

    const events: StoredEvent[] = [];
    const emails: { site: string; lead: string; email: string }[] = [];
    const botSites: string[] = [];
    const batch = Array.isArray(request.body);
    // In a batch, a field is named with its event's index: `3.site`.
    const at = (i: number, name: string) => (batch ? `${i}.${name}` : name);
    let site: Site | undefined;
    for (let i = 0; i < checked.events.length; i++) {
      const wire = checked.events[i];
      if (site?.domain !== wire.site) {
        site = app.sites.get(wire.site) ?? (await app.sites.find(wire.site));
        if (!site) return refuse(reply, 403, `unknown site "${wire.site}"`, at(i, 'site'));
        if (origin !== undefined && !site.origins.includes(origin)) {
          return refuse(reply, 403, `origin ${origin} is not allowed for ${site.domain}`, at(i, 'site'));
        }
      }
      if (bot || (dropAutomated && wire.wd === true)) {
        botSites.push(site.domain);
        continue;
      }
      const result = enrichEvent(wire, site, context);
      if ('error' in result) return refuse(reply, 400, result.error, at(i, result.field));
      events.push(result.event);
      if (wire.email !== undefined && result.event.lead !== null) emails.push({ site: site.domain, lead: result.event.lead, email: wire.email });
    }

    // Counted only once the whole body is known good: a refused request changes nothing.
    for (const domain of botSites) app.queue.countBots(domain, utcDay(receivedAt), 1);
    if (events.length === 0) return reply.code(202).send();
    try {
      // Kept before the events commit, so the delivery their lead makes finds it.
      for (const { site: domain, lead, email } of emails) await app.crm.keepEmail(domain, lead, email);
      await app.queue.write(events);
    } catch (error) {
      const full = error instanceof QueueFullError || error instanceof QueueClosedError;
      if (!full) request.log.error({ err: error }, 'commit failed');
      reply.header('retry-after', full ? '1' : '5');
      return refuse(reply, 503, full ? 'storage is busy, retry later' : 'storage is unavailable, retry later', '(body)');
    }
    return reply.code(202).send();
  });
};
