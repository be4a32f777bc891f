// A lease in ClickHouse: of the collectors sharing a database, one at a time does a job that
// must not run twice (sending webhooks). ClickHouse has no compare-and-set, so a free lease is
// claimed by writing a claim for the next term, waiting until any collector racing for it has
// written its own, and reading back: the earliest claim of the term holds, and every claimant
// reads the same one. The holder renews while it works; a silent holder loses the lease after
// TTL_MS, and the next term begins. (A holder paused longer than TTL_MS may finish the delivery
// it had started while a successor begins: receivers see the same delivery id twice.)
import { randomUUID } from 'node:crypto';
import type { Row } from '../rows.js';
import * as SQL from './sql.js';

export const LEASE_TTL_MS = 10_000;
/** A holder renews when its last renewal is older than this. */
const RENEW_AFTER_MS = 2_000;

export interface LeaseIo {
  rows(query: string): Promise<Row[]>;
  insert(table: string, values: Row[]): Promise<void>;
  sleep(ms: number): Promise<void>;
}

interface Claim {
  term: number;
  holder: string;
  claimedAt: number;
  renewedAt: number;
}

/** The claim that holds a term: the earliest, ties broken by holder id. */
export function holdingClaim(claims: readonly Claim[]): Claim | null {
  let best: Claim | null = null;
  for (const c of claims) {
    if (!best || c.claimedAt < best.claimedAt || (c.claimedAt === best.claimedAt && c.holder < best.holder)) best = c;
  }
  return best;
}

export class Lease {
  readonly holder = randomUUID();
  /** The term this collector last knew itself to hold. */
  private heldTerm: number | null = null;

  constructor(
    private readonly name: string,
    private readonly io: LeaseIo,
    private readonly settleMs: number,
  ) {}

  /** Whether this collector holds the lease now, claiming or renewing it as needed. */
  async hold(now = Date.now()): Promise<boolean> {
    const current = await this.currentTerm();
    this.heldTerm = null;
    if (current && now - current.renewedAt < LEASE_TTL_MS) {
      if (current.holder !== this.holder) return false;
      if (now - current.renewedAt >= RENEW_AFTER_MS) await this.write(current.term, current.claimedAt, now);
      this.heldTerm = current.term;
      return true;
    }
    const term = (current?.term ?? 0) + 1;
    await this.write(term, now, now);
    await this.io.sleep(this.settleMs);
    const won = await this.currentTerm();
    if (won === null || won.term !== term || won.holder !== this.holder) return false;
    this.heldTerm = term;
    return true;
  }

  /**
   * Gives the lease up (on close): this collector opens the next term with a claim that has
   * already expired, earlier than any racing claim, so the next poll of another one claims after it.
   */
  async release(now = Date.now()): Promise<void> {
    if (this.heldTerm === null) return;
    const expired = now - LEASE_TTL_MS;
    await this.write(this.heldTerm + 1, expired, expired);
    this.heldTerm = null;
  }

  private async currentTerm(): Promise<Claim | null> {
    const claims = (await this.io.rows(SQL.leaseTerm(this.name))).map((row) => ({
      term: Number(row.term), holder: String(row.holder), claimedAt: Number(row.claimed_at), renewedAt: Number(row.renewed_at),
    }));
    return holdingClaim(claims);
  }

  private write(term: number, claimedAt: number, renewedAt: number): Promise<void> {
    return this.io.insert('leases', [{ name: this.name, term, holder: this.holder, claimed_at: claimedAt, renewed_at: renewedAt }]);
  }
}
