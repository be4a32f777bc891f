// The journeys the ClickHouse fault tests send (a landing, and a signup or not) and how they
// read them back: shared by the take-over and the cluster fault tests.

/** Makes journeys on `site`: a visitor's landing, and its signup when `signs` (one batch: both taken or neither). */
export function journeyMaker(site: string): (visitor: string, signs: boolean) => Record<string, unknown>[] {
  let sequence = 0;
  return (visitor, signs) => {
    const ts = Date.now();
    const event = (name: string, offset: number) => ({ site, name, url: `https://${site}/`, id: `e${sequence++}`, ts: ts + offset, visitor, session: `${visitor}-s` });
    return signs ? [event('pageview', 0), event('signup', 1000)] : [event('pageview', 0)];
  };
}

/** The visitors stored with a landing and with a signup, from `SELECT DISTINCT visitor, name` rows. */
export function landedAndSigned(rows: readonly { visitor: string; name: string }[]): { landed: Set<string>; signed: Set<string> } {
  return {
    landed: new Set(rows.filter((r) => r.name === 'pageview').map((r) => r.visitor)),
    signed: new Set(rows.filter((r) => r.name === 'signup').map((r) => r.visitor)),
  };
}
