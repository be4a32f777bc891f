// The registered sites, held in memory for the hot path and re-read from the store now and
// then, so a site added through one collector reaches the others sharing its database.
import type { Site, Store } from '../store/types.js';

/**
 * Reads for unknown sites or origins are at least this far apart, and concurrent misses share
 * one: a flood of them costs at most 40 reads of the (small) sites table a second, and holds
 * each refused request for at most this long plus a read.
 */
export const MISS_READ_SPACING_MS = 25;

export class SiteRegistry {
  private sites = new Map<string, Site>();
  private origins = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  /** When the last completed read started: it holds every site created before then. */
  private readStartedAt = -Infinity;
  private inFlight: Promise<void> | null = null;

  constructor(private readonly store: Store) {}

  async load(): Promise<void> {
    await this.read();
  }

  /**
   * The site. On a miss it waits for a read of the store that started after the request came,
   * so a site just added through another collector works at once: there is no moment when it is
   * refused. Such reads are `spacingMs` apart (MISS_READ_SPACING_MS; the management API, behind
   * its credentials, passes 0), and concurrent misses share one.
   */
  async find(domain: string, spacingMs = MISS_READ_SPACING_MS): Promise<Site | undefined> {
    const site = this.sites.get(domain);
    if (site) return site;
    await this.readStartedAfter(Date.now(), spacingMs);
    return this.sites.get(domain);
  }

  /** As `admitsOrigin`, reading the store first on a miss (a site just added elsewhere sends from a new origin). */
  async admitsOriginFresh(origin: string): Promise<boolean> {
    if (this.origins.has(origin)) return true;
    await this.readStartedAfter(Date.now(), MISS_READ_SPACING_MS);
    return this.origins.has(origin);
  }

  /** Re-reads the sites every `intervalMs` until stop(). */
  startRefreshing(intervalMs: number): void {
    this.timer = setInterval(() => void this.read().catch(() => undefined), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  get(domain: string): Site | undefined {
    return this.sites.get(domain);
  }

  list(): Site[] {
    return [...this.sites.values()];
  }

  /** Whether any site admits this browser origin (for CORS headers; each event is checked against its own site). */
  admitsOrigin(origin: string): boolean {
    return this.origins.has(origin);
  }

  remember(site: Site): void {
    this.sites.set(site.domain, site);
    this.replace([...this.sites.values()]);
  }

  /** Waits until a read that started at or after `time` has completed, starting one when due. */
  private async readStartedAfter(time: number, spacingMs: number): Promise<void> {
    while (this.readStartedAt < time) {
      if (this.inFlight) {
        // One that started too early may miss the site: wait it out, then read again.
        await this.inFlight;
        continue;
      }
      const wait = this.readStartedAt + spacingMs - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      else await this.read();
    }
  }

  /** One read at a time; a caller arriving during one shares it. */
  private read(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const startedAt = Date.now();
    const done = this.store.listSites().then((sites) => {
      this.replace(sites);
      this.readStartedAt = Math.max(this.readStartedAt, startedAt);
    }).finally(() => {
      this.inFlight = null;
    });
    this.inFlight = done;
    return done;
  }

  private replace(sites: Site[]): void {
    // Sites are never deleted: what a read brings is added to (or updates) what is known, so a
    // site created here after a read started is not lost when that read ends without it.
    this.sites = new Map([...this.sites, ...sites.map((s): [string, Site] => [s.domain, s])]);
    this.origins = new Set([...this.sites.values()].flatMap((s) => s.origins));
  }
}
