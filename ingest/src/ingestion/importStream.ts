// Reading an import body (POST /api/sites/:site/import): newline-delimited lines split off a
// byte stream as it arrives, each line cleaned alone, the good ones committed a chunk at a time.
// At most one line (capped) and one chunk are ever held: memory does not grow with the body.
import type { StoredEvent } from '../event.js';
import type { Site, Store } from '../store/types.js';
import { ImportedEventCleaner, MAX_LINE_BYTES } from './importedEvent.js';

/** Events committed per transaction, or fewer once their lines' text passes IMPORT_CHUNK_CHARS (long lines). */
export const IMPORT_CHUNK_EVENTS = 1000;
export const IMPORT_CHUNK_CHARS = 4 * 1024 * 1024;
/** Rejected lines listed in the reply; `rejected_total` counts them all. */
export const MAX_LISTED_REJECTIONS = 100;

export interface ImportResult {
  imported: number;
  duplicates: number;
  rejected: { line: number; error: string; field: string }[];
  rejected_total: number;
}

/** The store failed mid-import: what was committed before stays. */
export class StorageFailed extends Error {}

/**
 * Reads the lines of an import body, commits the good ones a chunk at a time (the next line is
 * read once the last chunk is committed) and lists the bad ones. Throws StorageFailed when a
 * commit fails, and the body's own error when the client cuts it off.
 */
export class ImportRun {
  readonly result: ImportResult = { imported: 0, duplicates: 0, rejected: [], rejected_total: 0 };
  /** Lines that were not blank. */
  lines = 0;
  /** Lines that were JSON objects (good or bad): none at all means the body is not NDJSON. */
  objects = 0;
  firstProblem = '';
  private chunk: StoredEvent[] = [];
  private chunkChars = 0;
  private readonly cleaner: ImportedEventCleaner;

  constructor(site: Site, private readonly store: Store) {
    this.cleaner = new ImportedEventCleaner(site);
  }

  async read(body: AsyncIterable<Buffer>): Promise<void> {
    for await (const line of ndjsonLines(body, MAX_LINE_BYTES)) {
      if ('tooLong' in line) {
        this.lines++;
        this.reject(line.number, `line is longer than ${MAX_LINE_BYTES} bytes`, '(line)');
        continue;
      }
      if (line.text.trim() === '') continue;
      this.lines++;
      const cleaned = this.cleaner.clean(line.text, Date.now());
      if ('event' in cleaned) {
        this.objects++;
        this.chunk.push(cleaned.event);
        this.chunkChars += line.text.length;
        if (this.chunk.length >= IMPORT_CHUNK_EVENTS || this.chunkChars >= IMPORT_CHUNK_CHARS) await this.commit();
        continue;
      }
      if (cleaned.object) this.objects++;
      this.reject(line.number, cleaned.error, cleaned.field);
    }
    await this.commit();
  }

  private async commit(): Promise<void> {
    if (this.chunk.length === 0) return;
    let counts: { imported: number; duplicates: number };
    try {
      counts = await this.store.importEvents(this.chunk);
    } catch (error) {
      throw new StorageFailed('import commit failed', { cause: error });
    }
    this.result.imported += counts.imported;
    this.result.duplicates += counts.duplicates;
    this.chunk = [];
    this.chunkChars = 0;
  }

  private reject(line: number, error: string, field: string): void {
    this.result.rejected_total++;
    if (this.result.rejected.length < MAX_LISTED_REJECTIONS) this.result.rejected.push({ line, error, field });
    this.firstProblem ||= `line ${line}: ${error}`;
  }
}

export type NdjsonLine =
  /** `text` without its line break (LF or CRLF), decoded as UTF-8 (invalid bytes become U+FFFD). */
  | { number: number; text: string }
  /** The line ran past the cap; its bytes were skipped up to the next line break. */
  | { number: number; tooLong: true };

const LF = 0x0a;
const CR = 0x0d;

/**
 * The lines of `source`, numbered from 1. A line over `maxBytes` is skipped as it streams in,
 * never buffered whole. The last line needs no line break; a UTF-8 BOM opening the body is dropped.
 */
export async function* ndjsonLines(source: AsyncIterable<Buffer | string>, maxBytes: number): AsyncGenerator<NdjsonLine> {
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let number = 0;

  function take(piece: Buffer): void {
    if (tooLong) return;
    if (size + piece.length > maxBytes) {
      tooLong = true;
      parts = [];
      size = 0;
      return;
    }
    if (piece.length > 0) parts.push(piece);
    size += piece.length;
  }

  function finish(): NdjsonLine {
    number++;
    if (tooLong) {
      tooLong = false;
      return { number, tooLong: true };
    }
    let bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
    parts = [];
    size = 0;
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    let text = bytes.toString('utf8');
    if (number === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return { number, text };
  }

  for await (const chunk of source) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let from = 0;
    for (let end = buffer.indexOf(LF, from); end !== -1; end = buffer.indexOf(LF, from)) {
      take(buffer.subarray(from, end));
      yield finish();
      from = end + 1;
    }
    if (from < buffer.length) take(buffer.subarray(from));
  }
  // A body that does not end with a line break still ends its last line.
  if (size > 0 || tooLong) yield finish();
}
