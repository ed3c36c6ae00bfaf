/**
 * Event ids: `epoch:versionstamp:k`, the log's epoch (so ids of another
 * database are not taken for ours), the versionstamp of the commit's log
 * entry and the position of the event inside it. Clients treat them as
 * opaque strings.
 *
 * @module
 */
import type { LogPosition } from "./feed.ts";

/**
 * The id of the event at `pos` of the log named `epoch`.
 *
 * @example
 * ```ts
 * formatEventId("ab12cd34", { vs: "00000000000000020000", k: 3 }); // "ab12cd34:00000000000000020000:3"
 * ```
 */
export function formatEventId(epoch: string, pos: LogPosition): string {
  return `${epoch}:${pos.vs}:${pos.k}`;
}

/** The position an id names in the log named `epoch`; `null` for anything else. */
export function parseEventId(epoch: string, id: string | null): LogPosition | null {
  const match = id?.match(/^([\w-]+):([0-9a-f]{20}):(\d{1,9})$/);
  return match && match[1] === epoch ? { vs: match[2], k: Number(match[3]) } : null;
}
