// The audit log (admins only): who changed what, newest first, a page at a time.
import type { FastifyPluginAsync } from 'fastify';

export const auditRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Querystring: { limit: number; before?: number } }>('/api/audit', {
    config: { access: 'admin' },
    schema: {
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, before: { type: 'integer', minimum: 0 } },
      },
    },
  }, async (request) => {
    const { limit, before } = request.query;
    const found = await app.store.listAudit(before ?? Date.now() + 1, limit);
    // A full page ends before its last millisecond, which the next page (before it) then holds
    // whole: entries of one millisecond are not split between pages (unless one fills a page).
    const cut = found.length === limit ? found[found.length - 1].at : null;
    const entries = cut === null || found[0].at === cut ? found : found.filter((e) => e.at > cut);
    return {
      entries: entries.map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
      next_before: cut === null ? null : entries === found ? cut : cut + 1,
    };
  });
};
