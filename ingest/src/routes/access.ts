// Who may call what. Every route names its rule in `config.access` (a route without one is
// refused at start-up), and one guard enforces it: credentials → principal → permission → site.
// Changes made through the API are written to the audit log by the route's `config.audit`.
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { Accounts } from '../accounts/accounts.js';
import { actorOf, mayUseSite, permissionsOf, sitesOf, type Permission, type Principal } from '../accounts/permissions.js';
import { digest, secretMatches } from '../accounts/secrets.js';

/**
 * `public`: anyone (beacons, assets, the sign-in itself); `shared-link`: the route checks the
 * link's own token; `signed-by-crm`: the route checks the CRM's signature or basic auth;
 * `signed-in`: any valid credential; otherwise the permission required, on the route's `:site`
 * when it has one.
 */
export type Access = 'public' | 'shared-link' | 'signed-by-crm' | 'signed-in' | Permission;

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    /** The audit log's action for a successful call (`funnel.save`, …). */
    audit?: string;
  }
  interface FastifyRequest {
    /** Who sent the request, once the guard has checked its credentials (null on public routes). */
    principal: Principal | null;
    /** What the audited change was done to, when not the route's `:id` or `:lead`. */
    auditTarget?: string | null;
  }
}

export const SESSION_COOKIE = 'fb_session';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Refuses, at start-up, a route that names no access rule (preflights carry no credentials). */
export function requireAccessRules(route: RouteOptions): void {
  if ([route.method].flat().every((m) => m === 'OPTIONS')) return;
  if (!route.config?.access) throw new Error(`route ${String(route.method)} ${route.url} has no access rule (config.access)`);
}

/** The collector's own origin as the browser sees it (behind a proxy, as forwarded when TRUST_PROXY is on). */
export function ownOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/**
 * A change sent with a session cookie must come from the dashboard itself: browsers send
 * `Origin` on every cross-origin or non-GET fetch, so a page elsewhere cannot ride the cookie.
 */
export function fromOwnOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin) return origin === ownOrigin(request);
  return request.headers['sec-fetch-site'] === 'same-origin';
}

function deny(reply: FastifyReply, status: 401 | 403, error: string, field: string) {
  if (status === 401) reply.header('www-authenticate', 'Bearer');
  return reply.code(status).send({ error, field });
}

/** The principal behind the request's credentials; null without any; 'invalid' for bad ones. */
async function principalOf(request: FastifyRequest, ownerToken: string, accounts: Accounts): Promise<Principal | null | 'invalid'> {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const presented = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '';
    if (!presented) return 'invalid';
    if (Accounts.looksLikeKey(presented)) return (await accounts.keyPrincipal(presented)) ?? 'invalid';
    return secretMatches(presented, ownerToken) ? { kind: 'owner' } : 'invalid';
  }
  const cookie = request.cookies[SESSION_COOKIE];
  if (!cookie) return null;
  return (await accounts.sessionPrincipal(cookie)) ?? 'invalid';
}

export function accessGuard(app: FastifyInstance) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const access = request.routeOptions.config.access;
    if (access === 'public' || access === 'shared-link' || access === 'signed-by-crm') return;
    const principal = await principalOf(request, app.adminToken, app.accounts);
    if (principal === null) return deny(reply, 401, 'sign in, or send a token or key (Authorization: Bearer …)', 'authorization');
    if (principal === 'invalid') return deny(reply, 401, 'these credentials are not valid (any more): sign in again', 'authorization');
    if (principal.kind === 'user' && !SAFE_METHODS.has(request.method) && !fromOwnOrigin(request)) {
      return deny(reply, 403, 'a change with a session cookie must come from the dashboard’s own origin', 'origin');
    }
    request.principal = principal;
    if (access === 'signed-in' || access === undefined) return;
    if (!permissionsOf(principal).includes(access)) {
      return deny(reply, 403, `this needs the ${access} permission`, 'authorization');
    }
    const { site } = request.params as { site?: string };
    if (site !== undefined ? !mayUseSite(principal, site) : access === 'admin' && sitesOf(principal) !== null) {
      // Collector-wide administration (users, keys, new sites) would let a site-limited admin widen its own reach.
      return deny(reply, 403, site !== undefined ? `no access to site ${site}` : 'this needs an admin of every site', 'site');
    }
  };
}

/** Writes a successful audited change to the audit log before the reply leaves. */
export function auditTrail(app: FastifyInstance) {
  return async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const action = request.routeOptions.config.audit;
    if (!action || reply.statusCode >= 300 || !request.principal) return payload;
    const params = request.params as { site?: string; id?: string; lead?: string };
    await app.store.appendAudit({
      at: Date.now(),
      actor: actorOf(request.principal),
      action,
      site: params.site ?? null,
      target: request.auditTarget !== undefined ? request.auditTarget : params.id ?? params.lead ?? null,
    });
    return payload;
  };
}

/** How an erased person appears in the audit log: a digest, so the log does not keep what was erased. */
export function erasedTarget(id: string): string {
  return `sha256:${digest(id).slice(0, 16)}`;
}
