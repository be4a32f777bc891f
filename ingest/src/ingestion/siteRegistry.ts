// The registered sites, held in memory for the hot path and re-read from the store now and
// then, so a site added through one collector reaches the others sharing its database.
import type { Site, Store } from '../store/types.js';

export class SiteRegistry {
  private sites = new Map<string, Site>();
  private origins = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private loadedAt = 0;

  constructor(private readonly store: Store) {}

  async load(): Promise<void> {
    this.loadedAt = Date.now();
    this.replace(await this.store.listSites());
  }

  /**
   * The site, re-reading the store on a miss unless it was read less than `maxAgeMs` ago (once a
   * second by default, so a flood of events for unknown sites costs no more than that; the
   * management API, behind its token, passes 0): a site just added through another collector
   * works at once.
   */
  async find(domain: string, maxAgeMs = 1000): Promise<Site | undefined> {
    const site = this.sites.get(domain);
    if (site || Date.now() - this.loadedAt < maxAgeMs) return site;
    await this.load();
    return this.sites.get(domain);
  }

  /** Re-reads the sites every `intervalMs` until stop(). */
  startRefreshing(intervalMs: number): void {
    this.timer = setInterval(() => void this.load().catch(() => undefined), intervalMs);
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

  private replace(sites: Site[]): void {
    this.sites = new Map(sites.map((s) => [s.domain, s]));
    this.origins = new Set(sites.flatMap((s) => s.origins));
  }
}
