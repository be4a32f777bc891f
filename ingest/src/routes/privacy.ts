// A person's right to be forgotten, and a site's data to take away: erase one visitor or one
// lead, export a site's events.
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { dateRangeQuery, parseDateRange } from './stats.js';
import { erasedTarget } from './access.js';
import { CRMS } from '../crm/config.js';

type SiteParams = { site: string };

export const privacyRoutes: FastifyPluginAsync = async (app) => {
  app.addHook('preHandler', async (request, reply) => {
    const { site } = request.params as Partial<SiteParams>;
    if (site !== undefined && !(await app.sites.find(site, 0))) return reply.code(404).send({ error: `no site ${site}`, field: 'site' });
  });

  app.delete<{ Params: SiteParams & { visitor: string } }>('/api/sites/:site/visitors/:visitor', {
    config: { access: 'privacy:write', audit: 'visitor.erase' },
  }, async (request) => {
    request.auditTarget = erasedTarget(request.params.visitor);
    return { deleted_events: await app.store.deleteVisitor(request.params.site, request.params.visitor) };
  });

  app.delete<{ Params: SiteParams & { lead: string } }>('/api/sites/:site/leads/:lead', {
    config: { access: 'privacy:write', audit: 'lead.erase' },
  }, async (request) => {
    request.auditTarget = erasedTarget(request.params.lead);
    const deleted = await app.store.deleteLead(request.params.site, request.params.lead);
    // Its ids in the CRMs, and an e-mail still waiting for one, go with it (the CRMs' own records are theirs).
    await app.crm.records.forgetLead(request.params.site, request.params.lead, CRMS);
    return { deleted_events: deleted };
  });

  /** Newline-delimited JSON, one stored event a line, streamed: an export of millions fits in no memory. */
  app.get<{ Params: SiteParams; Querystring: { from: string; to: string } }>('/api/sites/:site/export', {
    config: { access: 'export:read', audit: 'site.export' },
    schema: { querystring: dateRangeQuery },
  }, async (request, reply) => {
    const range = parseDateRange(request.query);
    if ('error' in range) return reply.code(400).send(range);
    const events = app.store.exportEvents(request.params.site, range);
    const lines = Readable.from((async function* () {
      for await (const event of events) yield `${JSON.stringify(event)}\n`;
    })());
    return reply
      .header('content-type', 'application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="${request.params.site}-${request.query.from}-${request.query.to}.ndjson"`)
      .send(lines);
  });
};
