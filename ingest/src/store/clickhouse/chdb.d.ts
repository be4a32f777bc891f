// The little of chDB's Node API the store uses (the package is optional: CI installs it, a
// newcomer need not, so its own types may be missing). See connection.ts.
declare module 'chdb' {
  export interface ChdbResult {
    text(): string;
  }
  export interface StreamResult {
    rows(): AsyncIterable<Record<string, unknown>>;
  }
  export class Session {
    constructor(path?: string, options?: { connectionArgs?: readonly string[] });
    queryAsync(query: string, options?: { format?: string }): Promise<ChdbResult>;
    insert(params: { table: string; values: Buffer; format: 'JSONEachRow'; settings?: Record<string, string | number> }): Promise<unknown>;
    queryStream(query: string, options?: { format?: string }): StreamResult;
    close(): void;
  }
  export function drainPending(): Promise<void>;
}
