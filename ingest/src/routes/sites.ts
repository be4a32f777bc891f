// Sites: register a domain and the browser origins allowed to send its events.
import type { FastifyPluginAsync } from 'fastify';
import { mayUseSite } from '../accounts/permissions.js';
import type { Site } from '../store/types.js';

const domainPattern = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?$';

const siteBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    origins: { type: 'array', maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 300 } },
    allowed_params: {
      type: 'array', maxItems: 50, items: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
    },
    /** Days events are kept; null keeps them for ever. */
    retention_days: { type: ['integer', 'null'], minimum: 1, maximum: 36500 },
  },
} as const;

const siteReply = {
  type: 'object',
  properties: {
    domain: { type: 'string' },
    origins: { type: 'array', items: { type: 'string' } },
    allowed_params: { type: 'array', items: { type: 'string' } },
    retention_days: { type: ['integer', 'null'] },
    created_at: { type: 'string' },
  },
} as const;

interface SiteBody {
  domain?: string;
  origins?: string[];
  allowed_params?: string[];
  retention_days?: number | null;
}

/** An origin as a browser sends it: scheme://host[:port], nothing more. */
export function invalidOrigin(origins: string[]): string | undefined {
  return origins.find((o) => {
    try {
      const url = new URL(o);
      return (url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== o;
    } catch {
      return true;
    }
  });
}

function present(site: Site) {
  return {
    domain: site.domain,
    origins: site.origins,
    allowed_params: site.allowedParams,
    retention_days: site.retentionDays ?? null,
    created_at: new Date(site.createdAt).toISOString(),
  };
}

export const siteRoutes: FastifyPluginAsync = async (app) => {
  // Every signed-in principal lists the sites it may see.
  app.get('/api/sites', { config: { access: 'signed-in' }, schema: { response: { 200: { type: 'array', items: siteReply } } } }, async (request) =>
    app.sites.list().filter((site) => mayUseSite(request.principal!, site.domain)).map(present));

  app.post<{ Body: SiteBody }>('/api/sites', {
    config: { access: 'admin', audit: 'site.create' },
    schema: {
      body: { ...siteBody, required: ['domain'], properties: { ...siteBody.properties, domain: { type: 'string', pattern: domainPattern } } },
      response: { 201: siteReply },
    },
  }, async (request, reply) => {
    const body = request.body;
    const origins = body.origins ?? [`https://${body.domain}`];
    const bad = invalidOrigin(origins);
    if (bad !== undefined) return reply.code(400).send({ error: `"${bad}" is not an origin like https://shop.example.com`, field: 'origins' });
    const site: Site = {
      domain: body.domain!, origins, allowedParams: body.allowed_params ?? [], createdAt: Date.now(), retentionDays: body.retention_days ?? null,
    };
    if (!(await app.store.createSite(site))) {
      return reply.code(409).send({ error: `site ${site.domain} exists already`, field: 'domain' });
    }
    app.sites.remember(site);
    request.auditTarget = site.domain;
    return reply.code(201).send(present(site));
  });

  app.get<{ Params: { site: string } }>('/api/sites/:site', { config: { access: 'reports:read' }, schema: { response: { 200: siteReply } } }, async (request, reply) => {
    const site = await app.sites.find(request.params.site, 0);
    if (!site) return reply.code(404).send({ error: 'no such site', field: 'site' });
    return present(site);
  });

  app.patch<{ Params: { site: string }; Body: SiteBody }>('/api/sites/:site', {
    config: { access: 'admin', audit: 'site.update' },
    schema: { body: siteBody, response: { 200: siteReply } },
  }, async (request, reply) => {
    const site = await app.sites.find(request.params.site, 0);
    if (!site) return reply.code(404).send({ error: 'no such site', field: 'site' });
    const origins = request.body.origins ?? site.origins;
    const bad = invalidOrigin(origins);
    if (bad !== undefined) return reply.code(400).send({ error: `"${bad}" is not an origin like https://shop.example.com`, field: 'origins' });
    const updated: Site = {
      ...site,
      origins,
      allowedParams: request.body.allowed_params ?? site.allowedParams,
      retentionDays: request.body.retention_days === undefined ? site.retentionDays : request.body.retention_days,
    };
    await app.store.updateSite(updated);
    app.sites.remember(updated);
    return present(updated);
  });
};
