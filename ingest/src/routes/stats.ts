// GET /api/sites/:site/stats: visitors, pageviews, stored events and dropped bots for a range.
import type { FastifyPluginAsync } from 'fastify';
import type { TimeRange } from '../store/types.js';
import { DAY_MS, parseUtcDay } from '../time.js';

export const dateRangeQuery = {
  type: 'object',
  required: ['from', 'to'],
  properties: {
    from: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
    to: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
  },
} as const;

/** Reads from/to (UTC days, both included) into a time range, or says which field is wrong. */
export function parseDateRange(query: { from: string; to: string }): TimeRange | { error: string; field: string } {
  const from = parseUtcDay(query.from);
  const to = parseUtcDay(query.to);
  if (from === null) return { error: 'from is not a date (YYYY-MM-DD)', field: 'from' };
  if (to === null) return { error: 'to is not a date (YYYY-MM-DD)', field: 'to' };
  if (to < from) return { error: 'to is before from', field: 'to' };
  if (to - from > 3660 * DAY_MS) return { error: 'a range spans at most ten years', field: 'to' };
  return { fromMs: from, toMs: to + DAY_MS };
}

export const statsRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Params: { site: string }; Querystring: { from: string; to: string } }>('/api/sites/:site/stats', {
    config: { access: 'reports:read' },
    schema: {
      querystring: dateRangeQuery,
      response: {
        200: {
          type: 'object',
          properties: { visitors: { type: 'integer' }, pageviews: { type: 'integer' }, events: { type: 'integer' }, bots: { type: 'integer' } },
        },
      },
    },
  }, async (request, reply) => {
    if (!(await app.sites.find(request.params.site, 0))) return reply.code(404).send({ error: 'no such site', field: 'site' });
    const range = parseDateRange(request.query);
    if ('error' in range) return reply.code(400).send(range);
    return app.store.stats(request.params.site, range);
  });
};
