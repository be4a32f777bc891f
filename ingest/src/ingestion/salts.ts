// The daily rotating salt of cookieless visitor keys. Today's salt is cached for the hot path;
// salts of days before yesterday are deleted, so old keys can never be recomputed.
import type { Store } from '../store/types.js';
import { DAY_MS, utcDay } from '../time.js';
import { newDailySalt } from '../enrich/privacy.js';

export class DailySalt {
  private dayStart = 0;
  private salt = '';

  constructor(private readonly store: Store) {}

  /**
   * Today's salt, without a promise on the hot path: a string while the cached day holds,
   * a promise only when the UTC day has changed and the store must be asked.
   */
  forTime(now: number): string | Promise<string> {
    if (now >= this.dayStart && now < this.dayStart + DAY_MS) return this.salt;
    return this.rotate(now);
  }

  private async rotate(now: number): Promise<string> {
    const dayStart = now - (now % DAY_MS);
    const salt = await this.store.dailySalt(utcDay(dayStart), newDailySalt());
    await this.store.deleteSaltsBefore(utcDay(dayStart - DAY_MS));
    this.dayStart = dayStart;
    this.salt = salt;
    return salt;
  }
}
