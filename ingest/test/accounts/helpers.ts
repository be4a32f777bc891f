// Signing in over real HTTP, as the dashboard does, for the accounts tests.

/** Signs in; returns the session cookie's value (the reply must be 204). */
export async function signIn(url: string, email: string, password: string): Promise<string> {
  const reply = await login(url, email, password);
  if (reply.status !== 204) throw new Error(`sign-in of ${email}: ${reply.status} ${await reply.text()}`);
  const cookie = reply.headers.get('set-cookie') ?? '';
  const match = /fb_session=([^;]+)/.exec(cookie);
  if (!match) throw new Error(`sign-in of ${email} set no session cookie: ${cookie}`);
  return match[1];
}

export function login(url: string, email: string, password: string): Promise<Response> {
  return fetch(`${url}/api/login`, {
    method: 'POST', headers: { 'content-type': 'application/json', origin: url }, body: JSON.stringify({ email, password }),
  });
}

/** fetch() with a session cookie, from the collector's own origin as a browser would send it. */
export function withSession(url: string, session: string, pathname: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  return fetch(url + pathname, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { cookie: `fb_session=${session}`, origin: url, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}
