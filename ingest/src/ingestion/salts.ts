// The daily rotating salt of cookieless visitor keys. Today's salt is cached for the hot path;
// salts of days before yesterday are deleted, so old keys can never be recomputed.
import type { Store } from '../store/types.js';
import { DAY_MS, utcDay } from '../time.js';
import { newDailySalt } from '../enrich/privacy.js';

export class DailySalt {
  private day = '';
  private salt = '';

  constructor(private readonly store: Store) {}

  /** Today's salt; reads or makes it in the store only when the UTC day has changed. */
  async forTime(now: number): Promise<string> {
    const day = utcDay(now);
    if (day !== this.day) {
      const salt = await this.store.dailySalt(day, newDailySalt());
      await this.store.deleteSaltsBefore(utcDay(now - DAY_MS));
      this.day = day;
      this.salt = salt;
    }
    return this.salt;
  }
}
