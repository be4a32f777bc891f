// Users of the dashboard (admins only): e-mail, password, role, and optionally the sites they see.
import type { FastifyPluginAsync } from 'fastify';
import type { User } from '../accounts/accounts.js';
import { MIN_PASSWORD_LENGTH } from '../accounts/passwords.js';
import { ROLES, type Role } from '../accounts/permissions.js';

const password = { type: 'string', minLength: MIN_PASSWORD_LENGTH, maxLength: 1024 } as const;
const sites = { type: ['array', 'null'], maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 300 } } as const;
const role = { type: 'string', enum: [...ROLES] } as const;

const userReply = {
  type: 'object',
  properties: {
    id: { type: 'string' }, email: { type: 'string' }, role: { type: 'string' },
    sites: { type: ['array', 'null'], items: { type: 'string' } }, created_at: { type: 'string' },
  },
} as const;

function present(user: User) {
  return { id: user.id, email: user.email, role: user.role, sites: user.sites, created_at: new Date(user.createdAt).toISOString() };
}

export const userRoutes: FastifyPluginAsync = async (app) => {
  app.get('/api/users', { config: { access: 'admin' }, schema: { response: { 200: { type: 'array', items: userReply } } } }, async () =>
    (await app.accounts.listUsers()).map(present));

  app.post<{ Body: { email: string; password: string; role: Role; sites?: string[] | null } }>('/api/users', {
    config: { access: 'admin', audit: 'user.create' },
    schema: {
      body: {
        type: 'object', additionalProperties: false, required: ['email', 'password', 'role'],
        properties: { email: { type: 'string', pattern: '^[^@\\s]+@[^@\\s]+$', maxLength: 320 }, password, role, sites },
      },
      response: { 201: userReply },
    },
  }, async (request, reply) => {
    const { email, role: given, sites: limited } = request.body;
    const user = await app.accounts.createUser({ email, password: request.body.password, role: given, sites: limited ?? null });
    if (!user) return reply.code(409).send({ error: `${email} has an account already`, field: 'email' });
    request.auditTarget = user.email;
    return reply.code(201).send(present(user));
  });

  app.patch<{ Params: { id: string }; Body: { role?: Role; sites?: string[] | null; password?: string } }>('/api/users/:id', {
    config: { access: 'admin', audit: 'user.update' },
    schema: {
      body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { password, role, sites } },
      response: { 200: userReply },
    },
  }, async (request, reply) => {
    const user = await app.accounts.updateUser(request.params.id, request.body);
    if (!user) return reply.code(404).send({ error: `no user ${request.params.id}`, field: 'id' });
    request.auditTarget = user.email;
    return present(user);
  });

  app.delete<{ Params: { id: string } }>('/api/users/:id', { config: { access: 'admin', audit: 'user.delete' } }, async (request, reply) => {
    const user = await app.accounts.findUser(request.params.id);
    if (!user || !(await app.accounts.deleteUser(user.id))) return reply.code(404).send({ error: `no user ${request.params.id}`, field: 'id' });
    request.auditTarget = user.email;
    return reply.code(204).send();
  });
};
