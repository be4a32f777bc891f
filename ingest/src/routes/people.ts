// Who dropped, and why (CONTRACT.md): a funnel's people per step and status, one unit's
// journey, and the factors that separate those who went on from those who stopped.
import type { FastifyPluginAsync } from 'fastify';
import type { StoredEvent } from '../event.js';
import { parseStoredFunnel } from '../funnel/definition.js';
import {
  correlationQuestion, decodeCursor, encodeCursor, rankFactors, PEOPLE_STATUSES, type PeopleStatus, type PersonRow,
} from '../funnel/people.js';
import { dateRangeQuery, parseDateRange } from './stats.js';

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;
const DEFAULT_JOURNEY = 200;
const MAX_JOURNEY = 1_000;

type FunnelParams = { site: string; id: string };
type PeopleQuery = { from: string; to: string; step?: number; status?: PeopleStatus; limit?: number; cursor?: string };
type CorrelationQuery = { from: string; to: string; step?: number };

const iso = (ms: number) => new Date(ms).toISOString();

function presentPerson(row: PersonRow) {
  return {
    unit: row.unit,
    visitor: row.visitor,
    lead: row.lead,
    entered_at: iso(row.start),
    furthest_step: row.reached,
    last_seen: iso(row.lastSeen),
    channel: row.channel,
    source: row.source,
    campaign: row.campaign,
    exit_path: row.exitPath,
  };
}

function presentEvent(event: StoredEvent) {
  return {
    ts: iso(event.ts),
    name: event.name,
    path: event.path,
    url: event.url,
    visitor: event.visitor,
    session: event.session,
    lead: event.lead,
    channel: event.channel,
    source: event.source,
    campaign: event.campaign,
    device: event.device,
    browser: event.browser,
    variant: event.variant,
    props: event.props,
    engaged_ms: event.engaged_ms,
    scroll: event.scroll,
    ...(event.revenue_amount !== null ? { revenue: { amount: event.revenue_amount, currency: event.revenue_currency } } : {}),
  };
}

export const peopleRoutes: FastifyPluginAsync = async (app) => {
  app.addHook('preHandler', async (request, reply) => {
    const { site } = request.params as { site?: string };
    if (site !== undefined && !(await app.sites.find(site, 0))) return reply.code(404).send({ error: `no site ${site}`, field: 'site' });
  });

  /** The saved funnel's step count, or null (a 404 is sent). */
  const stepsOf = async (site: string, id: string) => {
    const stored = (await app.store.listFunnels(site)).find((funnel) => funnel.id === id);
    return stored ? parseStoredFunnel(stored.definition).steps.length : null;
  };

  app.get<{ Params: FunnelParams; Querystring: PeopleQuery }>('/api/sites/:site/funnels/:id/people', {
    config: { access: 'reports:read' },
    schema: {
      querystring: {
        ...dateRangeQuery,
        properties: {
          ...dateRangeQuery.properties,
          step: { type: 'integer', minimum: 1, maximum: 20 },
          status: { type: 'string', enum: [...PEOPLE_STATUSES] },
          limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE },
          cursor: { type: 'string', minLength: 1, maxLength: 1_000 },
        },
      },
    },
  }, async (request, reply) => {
    const { site, id } = request.params;
    const range = parseDateRange(request.query);
    if ('error' in range) return reply.code(400).send(range);
    const after = request.query.cursor === undefined ? null : decodeCursor(request.query.cursor);
    if (after === null && request.query.cursor !== undefined) return reply.code(400).send({ error: 'cursor is not one this API gave', field: 'cursor' });
    const stepCount = await stepsOf(site, id);
    if (stepCount === null) return reply.code(404).send({ error: `no funnel ${id}`, field: 'id' });
    const status = request.query.status ?? 'reached';
    const step = request.query.step ?? (status === 'converted' ? stepCount : 1);
    if (step > stepCount) return reply.code(400).send({ error: `step is 1..${stepCount} for this funnel`, field: 'step' });
    const limit = request.query.limit ?? DEFAULT_PAGE;
    const page = await app.store.funnelPeople(site, id, range, { step, status, stepCount, now: Date.now(), limit, after });
    if (!page) return reply.code(404).send({ error: `no funnel ${id}`, field: 'id' });
    const last = page.rows[page.rows.length - 1];
    return { people: page.rows.map(presentPerson), next_cursor: page.more && last ? encodeCursor(last) : null };
  });

  app.get<{ Params: { site: string; unit: string }; Querystring: { limit?: number } }>('/api/sites/:site/visitors/:unit/events', {
    config: { access: 'reports:read' },
    schema: {
      params: { type: 'object', properties: { site: { type: 'string' }, unit: { type: 'string', minLength: 1, maxLength: 300 } } },
      querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: MAX_JOURNEY } } },
    },
  }, async (request) => {
    const { site, unit } = request.params;
    const limit = request.query.limit ?? DEFAULT_JOURNEY;
    // A unit as a people list names it (`visitor:ID`, `lead:ID`), or a bare visitor id.
    const events = unit.startsWith('lead:')
      ? await app.store.leadEvents(site, unit.slice(5), limit)
      : await app.store.visitorEvents(site, unit.startsWith('visitor:') ? unit.slice(8) : unit, limit);
    return { events: events.map(presentEvent) };
  });

  app.get<{ Params: FunnelParams; Querystring: CorrelationQuery }>('/api/sites/:site/funnels/:id/correlation', {
    config: { access: 'reports:read' },
    schema: {
      querystring: {
        ...dateRangeQuery,
        properties: { ...dateRangeQuery.properties, step: { type: 'integer', minimum: 1, maximum: 20 } },
      },
    },
  }, async (request, reply) => {
    const { site, id } = request.params;
    const range = parseDateRange(request.query);
    if ('error' in range) return reply.code(400).send(range);
    const stepCount = await stepsOf(site, id);
    if (stepCount === null) return reply.code(404).send({ error: `no funnel ${id}`, field: 'id' });
    const { step } = request.query;
    // The last step has nothing after it to go on to.
    if (step !== undefined && step >= stepCount) return reply.code(400).send({ error: `step is 1..${stepCount - 1} for this funnel`, field: 'step' });
    const question = correlationQuestion(step, stepCount, Date.now());
    const counts = await app.store.funnelFactors(site, id, range, question);
    if (!counts) return reply.code(404).send({ error: `no funnel ${id}`, field: 'id' });
    return { step: step ?? null, went_on: counts.wentOn, stopped: counts.stopped, factors: rankFactors(counts) };
  });
};
