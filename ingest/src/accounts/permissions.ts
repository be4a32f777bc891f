// Who may do what (CONTRACT.md, "Accounts, keys and shared links"): roles and key scopes grant
// permissions; every management route names the one it needs (routes/access.ts).

/** What a key may be given; a role grants a set of them (admin: all, and `admin` too). */
export const KEY_SCOPES = ['reports:read', 'funnels:write', 'leads:write', 'export:read', 'privacy:write'] as const;
export type KeyScope = (typeof KEY_SCOPES)[number];
/** `admin`: sites, users, keys, shared links, integrations, import, the audit log. Never a key's. */
export type Permission = KeyScope | 'admin';

export const ROLES = ['admin', 'editor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  viewer: ['reports:read'],
  editor: ['reports:read', 'funnels:write', 'leads:write'],
  admin: [...KEY_SCOPES, 'admin'],
};

/** Whoever sent a request, once its credentials checked out. `sites` null: every site. */
export type Principal =
  | { kind: 'owner' }
  | { kind: 'user'; id: string; email: string; role: Role; sites: string[] | null; session: string }
  | { kind: 'key'; id: string; name: string; scopes: KeyScope[]; sites: string[] | null };

export function permissionsOf(principal: Principal): readonly Permission[] {
  switch (principal.kind) {
    case 'owner': return ROLE_PERMISSIONS.admin;
    case 'user': return ROLE_PERMISSIONS[principal.role];
    case 'key': return principal.scopes;
  }
}

export function sitesOf(principal: Principal): readonly string[] | null {
  return principal.kind === 'owner' ? null : principal.sites;
}

export function mayUseSite(principal: Principal, site: string): boolean {
  const sites = sitesOf(principal);
  return sites === null || sites.includes(site);
}

/** How the audit log names a principal. */
export function actorOf(principal: Principal): string {
  switch (principal.kind) {
    case 'owner': return 'owner';
    case 'user': return `user:${principal.email}`;
    case 'key': return `key:${principal.name}`;
  }
}
