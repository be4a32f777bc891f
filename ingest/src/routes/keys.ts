// API keys for CRMs and scripts (admins only): scoped, optionally limited to sites, shown once.
import type { FastifyPluginAsync } from 'fastify';
import type { ApiKey } from '../accounts/accounts.js';
import { KEY_SCOPES, type KeyScope } from '../accounts/permissions.js';

const keyReply = {
  type: 'object',
  properties: {
    id: { type: 'string' }, name: { type: 'string' }, key: { type: 'string' },
    scopes: { type: 'array', items: { type: 'string' } }, sites: { type: ['array', 'null'], items: { type: 'string' } },
    created_at: { type: 'string' }, last_used_at: { type: ['string', 'null'] },
  },
} as const;

function present(key: ApiKey) {
  return {
    id: key.id, name: key.name, scopes: key.scopes, sites: key.sites,
    created_at: new Date(key.createdAt).toISOString(), last_used_at: key.lastUsedAt === null ? null : new Date(key.lastUsedAt).toISOString(),
  };
}

export const keyRoutes: FastifyPluginAsync = async (app) => {
  app.get('/api/keys', { config: { access: 'admin' }, schema: { response: { 200: { type: 'array', items: keyReply } } } }, async () =>
    (await app.accounts.listKeys()).map(present));

  app.post<{ Body: { name: string; scopes: KeyScope[]; sites?: string[] | null } }>('/api/keys', {
    config: { access: 'admin', audit: 'key.create' },
    schema: {
      body: {
        type: 'object', additionalProperties: false, required: ['name', 'scopes'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 100 },
          scopes: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...KEY_SCOPES] } },
          sites: { type: ['array', 'null'], maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 300 } },
        },
      },
      response: { 201: keyReply },
    },
  }, async (request, reply) => {
    const { key, secret } = await app.accounts.createKey({ name: request.body.name, scopes: request.body.scopes, sites: request.body.sites ?? null });
    request.auditTarget = key.name;
    return reply.code(201).send({ ...present(key), key: secret });
  });

  app.delete<{ Params: { id: string } }>('/api/keys/:id', { config: { access: 'admin', audit: 'key.delete' } }, async (request, reply) => {
    if (!(await app.accounts.deleteKey(request.params.id))) return reply.code(404).send({ error: `no key ${request.params.id}`, field: 'id' });
    return reply.code(204).send();
  });
};
