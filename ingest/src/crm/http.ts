// Calls to a CRM's REST API, and what their failures mean for the delivery that made them:
// a 429 or a 5xx (or no answer) is retried, as the CRM asks or with backoff; a 401 or 403 means
// the token is no good, so the connector pauses until it is replaced; any other 4xx is a request
// the CRM will never take, so the delivery fails and says why.
export type CrmFailure =
  | { kind: 'retry'; error: string; retryAfterMs: number | null }
  | { kind: 'unauthorized'; error: string }
  | { kind: 'rejected'; error: string };

export class CrmError extends Error {
  constructor(readonly failure: CrmFailure) {
    super(failure.error);
  }
}

export interface CrmReply {
  status: number;
  body: unknown;
}

/** Bytes of a failure reply kept for the operator. */
const ERROR_SNIPPET = 300;
const TIMEOUT_MS = 10_000;

/** Seconds (or an HTTP date) in Retry-After, as ms from now; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * Sends a JSON request; resolves with any answer whose status is in `accept`, and throws a
 * CrmError saying what to do about any other.
 */
export async function crmRequest(
  method: string, url: string, init: { headers?: Record<string, string>; body?: unknown; accept?: readonly number[] } = {},
): Promise<CrmReply> {
  const accept = init.accept ?? [200, 201];
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: { accept: 'application/json', ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      redirect: 'error',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    throw new CrmError({ kind: 'retry', error: `${method} ${new URL(url).pathname}: ${(error as Error).message}`, retryAfterMs: null });
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (accept.includes(response.status)) return { status: response.status, body };
  // What the CRM says, in its own words when it gives them (HubSpot: message; Pipedrive: error).
  const said = typeof body === 'object' && body !== null ? (body as { message?: unknown; error?: unknown }).message ?? (body as { error?: unknown }).error : undefined;
  const error = `${method} ${new URL(url).pathname}: HTTP ${response.status} ${(typeof said === 'string' ? said : text).slice(0, ERROR_SNIPPET)}`.trim();
  if (response.status === 429 || response.status >= 500) {
    throw new CrmError({ kind: 'retry', error, retryAfterMs: retryAfterMs(response.headers.get('retry-after')) });
  }
  if (response.status === 401 || response.status === 403) throw new CrmError({ kind: 'unauthorized', error });
  throw new CrmError({ kind: 'rejected', error });
}
