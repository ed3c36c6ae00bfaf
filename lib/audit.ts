/**
 * The audit log: every moderation and administration action on record, with
 * who did it, to whom, why and when. An entry is written in the same commit
 * as the action, under the commit's versionstamp (so an audited operation
 * is committed alone: see `FeedWriter.run`'s `alone`), twice: in the room's log
 * (for its owner and moderators) and in the server's (for administrators).
 *
 * @module
 */
import type { User } from "./accounts.ts";
import type { Writes } from "./feed.ts";
import { auditAllPrefix, auditKey, auditRoomPrefix } from "./keys.ts";
import type { AuditEntry } from "../shared/api_types.ts";

export type { AuditEntry };

/** What an action records; the id and time are added. */
export type AuditRecord = Omit<AuditEntry, "id" | "at" | "actor"> & { actor: User };

/** Adds an action's audit entries to its commit. */
export function recordAudit(
  kv: Deno.Kv,
  op: Writes,
  record: AuditRecord,
  now: number,
): void {
  const stamp = kv.commitVersionstamp();
  const value = { ...record, at: now };
  if (record.roomId) op.set(auditKey("room", record.roomId, stamp), value);
  op.set(auditKey("all", "", stamp), value);
}

/**
 * A page of a room's audit log (or the server's, with `roomId` null), newest
 * first.
 *
 * @param before the `next` of the previous page.
 */
export async function listAudit(
  kv: Deno.Kv,
  roomId: string | null,
  options: { limit: number; before?: string },
): Promise<{ entries: AuditEntry[]; next: string | null }> {
  const prefix = roomId ? auditRoomPrefix(roomId) : auditAllPrefix();
  const selector: Deno.KvListSelector = options.before
    ? { prefix, end: [...prefix, options.before] }
    : { prefix };
  const entries: AuditEntry[] = [];
  for await (
    const e of kv.list<Omit<AuditEntry, "id">>(selector, {
      reverse: true,
      limit: options.limit + 1,
    })
  ) {
    entries.push({ ...e.value, id: String(e.key.at(-1)) });
  }
  const more = entries.length > options.limit;
  if (more) entries.pop();
  return { entries, next: more ? entries.at(-1)!.id : null };
}
