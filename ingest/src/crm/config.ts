// A site's CRM connectors as configured (CONTRACT.md, "CRM connectors"): what PUT takes, what
// GET shows (secrets masked), and the map between our stages and HubSpot's lifecycle stages.
import type { LeadStage } from '../leads/stages.js';
import { STAGES } from '../leads/stages.js';

export const CRMS = ['hubspot', 'pipedrive'] as const;
export type Crm = (typeof CRMS)[number];

export interface HubSpotConfig {
  /** A private app's access token (scopes: crm.objects.contacts.read/write, crm.schemas.contacts.read/write). */
  accessToken: string;
  /** The app's client secret: signs the webhooks HubSpot sends us (v3 signature). */
  clientSecret: string;
  /** Our stage → HubSpot's `lifecyclestage` value; a stage left out does not set it. */
  stages: Partial<Record<LeadStage, string>>;
}

export interface PipedriveConfig {
  apiToken: string;
  /** The HTTP basic auth Pipedrive's webhooks are set up to send us. */
  webhookUser: string;
  webhookPassword: string;
}

export interface CrmConfigs {
  hubspot: HubSpotConfig | null;
  pipedrive: PipedriveConfig | null;
}

/** HubSpot's default lifecycle stages for ours (CONTRACT.md); `lead` and `sal` have no default. */
export const DEFAULT_HUBSPOT_STAGES: Partial<Record<LeadStage, string>> = {
  mql: 'marketingqualifiedlead',
  sql: 'salesqualifiedlead',
  won: 'customer',
};

type Parsed<T> = { ok: true; config: T } | { ok: false; error: string; field: string };

function text(body: Record<string, unknown>, field: string, min = 1): string | { error: string; field: string } {
  const value = body[field];
  if (typeof value !== 'string' || value.trim().length < min || value.length > 500) {
    return { error: `${field} must be a string of ${min} to 500 characters`, field };
  }
  return value.trim();
}

/** The body as an object with none but the known fields, or what is wrong with it. */
function objectOf(body: unknown, known: readonly string[]): Parsed<Record<string, unknown>> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, error: 'the body must be an object', field: '(body)' };
  const unknown = Object.keys(body).find((key) => !known.includes(key));
  return unknown === undefined ? { ok: true, config: body as Record<string, unknown> } : { ok: false, error: `unknown field ${unknown}`, field: unknown };
}

export function parseHubSpotConfig(body: unknown): Parsed<HubSpotConfig> {
  const object = objectOf(body, ['access_token', 'client_secret', 'stages']);
  if (!object.ok) return object;
  const input = object.config;
  const accessToken = text(input, 'access_token', 8);
  if (typeof accessToken !== 'string') return { ok: false, ...accessToken };
  const clientSecret = text(input, 'client_secret', 8);
  if (typeof clientSecret !== 'string') return { ok: false, ...clientSecret };
  let stages = DEFAULT_HUBSPOT_STAGES;
  if (input.stages !== undefined) {
    if (typeof input.stages !== 'object' || input.stages === null || Array.isArray(input.stages)) {
      return { ok: false, error: 'stages maps our stages to HubSpot lifecycle stages', field: 'stages' };
    }
    stages = {};
    for (const [stage, value] of Object.entries(input.stages)) {
      if (!(STAGES as readonly string[]).includes(stage)) return { ok: false, error: `unknown stage ${stage} (one of ${STAGES.join(', ')})`, field: `stages.${stage}` };
      if (typeof value !== 'string' || !/^[a-z0-9_]{1,100}$/.test(value)) {
        return { ok: false, error: 'a HubSpot lifecycle stage is its internal value, like marketingqualifiedlead', field: `stages.${stage}` };
      }
      stages[stage as LeadStage] = value;
    }
    // Two of our stages on one of HubSpot's would make a HubSpot change ambiguous to read back.
    const values = Object.values(stages);
    if (new Set(values).size !== values.length) return { ok: false, error: 'each HubSpot stage may stand for one of ours only', field: 'stages' };
  }
  return { ok: true, config: { accessToken, clientSecret, stages } };
}

export function parsePipedriveConfig(body: unknown): Parsed<PipedriveConfig> {
  const object = objectOf(body, ['api_token', 'webhook_user', 'webhook_password']);
  if (!object.ok) return object;
  const input = object.config;
  const apiToken = text(input, 'api_token', 8);
  if (typeof apiToken !== 'string') return { ok: false, ...apiToken };
  const webhookUser = text(input, 'webhook_user');
  if (typeof webhookUser !== 'string') return { ok: false, ...webhookUser };
  if (webhookUser.includes(':')) return { ok: false, error: 'a basic-auth user cannot contain ":"', field: 'webhook_user' };
  const webhookPassword = text(input, 'webhook_password', 12);
  if (typeof webhookPassword !== 'string') return { ok: false, ...webhookPassword };
  return { ok: true, config: { apiToken, webhookUser, webhookPassword } };
}

/** A secret as GET shows it: enough to tell which one is set, not enough to use it. */
export function mask(secret: string): string {
  return `••••${secret.slice(-4)}`;
}
