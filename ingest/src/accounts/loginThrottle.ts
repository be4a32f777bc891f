// Failed sign-ins (passwords of accounts and of shared links) are limited per account and per
// client address, so a password cannot be guessed at the collector's speed. Counted in memory,
// per collector: N collectors let N times the attempts through, which scrypt's cost still keeps
// far from guessing speed. The owner's token never passes through here.

export interface ThrottleLimits {
  /** Failures per account (or shared link) within `windowMs` before it is refused. */
  perAccount: number;
  /** Failures per client address within `windowMs` before it is refused. */
  perAddress: number;
  windowMs: number;
}

export const DEFAULT_THROTTLE: ThrottleLimits = { perAccount: 5, perAddress: 20, windowMs: 15 * 60_000 };
/** Keys remembered at most: an attacker spraying addresses cannot grow memory past this. */
const MAX_KEYS = 100_000;

export class LoginThrottle {
  /** key → times of its recent failures, oldest first. */
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly limits: ThrottleLimits = DEFAULT_THROTTLE) {}

  /**
   * Runs a password check under the throttle: while the account or address is refused, the
   * seconds to wait; else the check's result (null: wrong), its failure counted.
   */
  async attempt<T>(account: string, address: string, check: () => Promise<T | null>): Promise<{ wait: number } | { result: T | null }> {
    const wait = this.retryAfter(account, address);
    if (wait > 0) return { wait };
    const result = await check();
    if (result === null) this.failed(account, address);
    else this.succeeded(account);
    return { result };
  }

  /** Seconds to wait before trying again, or 0 when an attempt may go ahead. */
  retryAfter(account: string, address: string, now = Date.now()): number {
    const wait = Math.max(this.waitFor(`a:${account}`, this.limits.perAccount, now), this.waitFor(`ip:${address}`, this.limits.perAddress, now));
    return Math.ceil(wait / 1000);
  }

  failed(account: string, address: string, now = Date.now()): void {
    for (const key of [`a:${account}`, `ip:${address}`]) {
      const times = this.recent(key, now);
      times.push(now);
      this.failures.delete(key); // re-inserted last: the map stays in order of last failure
      this.failures.set(key, times);
    }
    while (this.failures.size > MAX_KEYS) this.failures.delete(this.failures.keys().next().value!);
  }

  /** A success clears the account's failures (not the address's: one right password does not buy more guesses elsewhere). */
  succeeded(account: string): void {
    this.failures.delete(`a:${account}`);
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((t) => t > now - this.limits.windowMs);
  }

  private waitFor(key: string, limit: number, now: number): number {
    const times = this.recent(key, now);
    return times.length < limit ? 0 : times[times.length - limit] + this.limits.windowMs - now;
  }
}
