// Funnels of a site: define (retroactively), read, delete, report, and preview unsaved.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';
import { parseFunnelDefinition } from '../funnel/definition.js';
import { BREAKDOWN_DIMENSIONS, type BreakdownDimension } from '../funnel/report.js';
import { compareVariants } from '../funnel/variants.js';
import type { StoredFunnel } from '../store/types.js';
import { FunnelsWarmingUp } from '../store/funnelRuntime.js';
import { dateRangeQuery, parseDateRange } from './stats.js';

const funnelIdPattern = '^[A-Za-z0-9_-]{1,64}$';

export const reportQuery = {
  ...dateRangeQuery,
  properties: {
    ...dateRangeQuery.properties,
    breakdown: { type: 'string', enum: [...BREAKDOWN_DIMENSIONS] },
    /** `previous`: the same report over the range of equal length just before, as `previous`. */
    compare: { type: 'string', enum: ['previous'] },
    /** With `breakdown=variant`: the variant the others are compared with (default: the one with most entries). */
    control: { type: 'string', minLength: 1, maxLength: 64 },
  },
} as const;

type SiteParams = { site: string };
type FunnelParams = SiteParams & { id: string };
export type ReportQuery = { from: string; to: string; breakdown?: BreakdownDimension; compare?: 'previous'; control?: string };

function present(funnel: StoredFunnel) {
  return {
    id: funnel.id,
    ...funnel.definition,
    created_at: new Date(funnel.createdAt).toISOString(),
    updated_at: new Date(funnel.updatedAt).toISOString(),
  };
}

/** A saved funnel's report, or why there is none yet (also what a shared link shows). */
export async function answerFunnelReport(app: FastifyInstance, site: string, id: string, query: ReportQuery, reply: FastifyReply) {
  const range = parseDateRange(query);
  if ('error' in range) return reply.code(400).send(range);
  try {
    const options = { now: Date.now(), breakdown: query.breakdown };
    const report = await app.store.funnelReport(site, id, range, options);
    if (!report) return reply.code(404).send({ error: `no funnel ${id}`, field: 'id' });
    const length = range.toMs - range.fromMs;
    const previous = query.compare === 'previous' ? await app.store.funnelReport(site, id, { fromMs: range.fromMs - length, toMs: range.fromMs }, options) : null;
    return {
      ...report,
      ...(query.breakdown === 'variant' ? { variants: compareVariants(report.breakdown, query.control) } : {}),
      ...(previous ? { previous } : {}),
    };
  } catch (error) {
    if (!(error instanceof FunnelsWarmingUp)) throw error;
    return reply.code(503).header('retry-after', '2').send({ error: error.message, field: null, warming: { done: error.done } });
  }
}

export const funnelRoutes: FastifyPluginAsync = async (app) => {
  // Every route here is about one site; an unknown one is a 404 before anything else.
  app.addHook('preHandler', async (request, reply) => {
    const { site } = request.params as Partial<SiteParams>;
    if (site !== undefined && !(await app.sites.find(site, 0))) return reply.code(404).send({ error: `no site ${site}`, field: 'site' });
  });

  app.get<{ Params: SiteParams }>('/api/sites/:site/funnels', { config: { access: 'reports:read' } }, async (request) =>
    (await app.store.listFunnels(request.params.site)).map(present));

  app.get<{ Params: FunnelParams }>('/api/sites/:site/funnels/:id', { config: { access: 'reports:read' } }, async (request, reply) => {
    const funnel = (await app.store.listFunnels(request.params.site)).find((f) => f.id === request.params.id);
    if (!funnel) return reply.code(404).send({ error: `no funnel ${request.params.id}`, field: 'id' });
    return present(funnel);
  });

  // The definition is checked by parseFunnelDefinition alone: it names the exact field at fault
  // and, unlike a coercing schema, never turns a wrong type into a plausible value.
  app.put<{ Params: FunnelParams; Body: unknown }>('/api/sites/:site/funnels/:id', {
    config: { access: 'funnels:write', audit: 'funnel.save' },
    schema: { params: { type: 'object', properties: { site: { type: 'string' }, id: { type: 'string', pattern: funnelIdPattern } } } },
  }, async (request, reply) => {
    const parsed = parseFunnelDefinition(request.body);
    if (!parsed.ok) return reply.code(400).send({ error: parsed.error, field: parsed.field || '(body)' });
    const { site, id } = request.params;
    const existing = (await app.store.listFunnels(site)).find((f) => f.id === id);
    const now = Date.now();
    const funnel: StoredFunnel = { site, id, definition: parsed.funnel.definition, createdAt: existing?.createdAt ?? now, updatedAt: now };
    await app.store.putFunnel(funnel);
    return reply.code(existing ? 200 : 201).send(present(funnel));
  });

  app.delete<{ Params: FunnelParams }>('/api/sites/:site/funnels/:id', { config: { access: 'funnels:write', audit: 'funnel.delete' } }, async (request, reply) => {
    const deleted = await app.store.deleteFunnel(request.params.site, request.params.id);
    if (!deleted) return reply.code(404).send({ error: `no funnel ${request.params.id}`, field: 'id' });
    return reply.code(204).send();
  });

  app.get<{ Params: FunnelParams; Querystring: ReportQuery }>('/api/sites/:site/funnels/:id/report', {
    config: { access: 'reports:read' },
    schema: { querystring: reportQuery },
  }, async (request, reply) => answerFunnelReport(app, request.params.site, request.params.id, request.query, reply));

  app.post<{ Params: SiteParams; Querystring: ReportQuery; Body: unknown }>('/api/sites/:site/funnels/preview', {
    config: { access: 'reports:read' },
    schema: { querystring: reportQuery },
  }, async (request, reply) => {
    const parsed = parseFunnelDefinition(request.body);
    if (!parsed.ok) return reply.code(400).send({ error: parsed.error, field: parsed.field || '(body)' });
    const range = parseDateRange(request.query);
    if ('error' in range) return reply.code(400).send(range);
    return app.store.previewFunnel(request.params.site, parsed.funnel, range, { now: Date.now(), breakdown: request.query.breakdown });
  });
};
