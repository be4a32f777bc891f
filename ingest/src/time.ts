// UTC day arithmetic shared by ingestion (salts, bot counts) and the report API (date ranges).

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** 'YYYY-MM-DD' of the UTC day holding epoch ms `ms`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** Epoch ms of the start of a 'YYYY-MM-DD' UTC day, or null when it is not a real date. */
export function parseUtcDay(day: string): number | null {
  if (!DAY_PATTERN.test(day)) return null;
  const ms = Date.parse(`${day}T00:00:00Z`);
  return Number.isNaN(ms) || utcDay(ms) !== day ? null : ms;
}
