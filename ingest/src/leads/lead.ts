// A lead as every store keeps it: its stage history, score and where it came from.
import type { LeadStage, SalesStage } from './stages.js';
import type { Score } from './scoring.js';

export interface StageChange {
  stage: LeadStage;
  /** The stage before; null for the first one (`lead`). */
  from: LeadStage | null;
  at: number;
  /** Deal value, for `won`. */
  amount: number | null;
  currency: string | null;
  /** What made the change: the lead being named, its score, or the sales side (API). */
  by: 'identify' | 'score' | 'api';
}

/** The attribution of the lead's first visit (first touch): kept when it is named later. */
export interface LeadEntry {
  channel: string;
  source: string | null;
  medium: string | null;
  campaign: string | null;
  term: string | null;
  landing: string;
}

export interface LeadRecord {
  site: string;
  lead: string;
  stage: LeadStage;
  /** When the lead entered its current stage. */
  stageAt: number;
  /** The score without decay applied since `score.at`. */
  score: Score;
  /** When the lead was first named. */
  createdAt: number;
  /** Its first event, the anonymous ones of the visit it was named in included. */
  firstSeen: number;
  lastSeen: number;
  entry: LeadEntry;
  /** Every stage change in time order, the first being `lead`. */
  changes: StageChange[];
}

export function cloneLead(record: LeadRecord): LeadRecord {
  return { ...record, score: { ...record.score }, entry: { ...record.entry }, changes: record.changes.map((c) => ({ ...c })) };
}

/** A move made by the sales side (POST /api/sites/:site/leads/:lead/stage). */
export interface StageMove {
  stage: SalesStage;
  at: number;
  amount?: number;
  currency?: string;
}

export type StageMoveResult =
  | { ok: true; changed: boolean; record: LeadRecord; change: StageChange | null }
  | { ok: false; reason: 'unknown' }
  | { ok: false; reason: 'illegal'; error: string; stage: LeadStage };
