/**
 * The moderation dialogs: banning someone from a room (reason and how
 * long), a room's bans with Unban, a room's audit log, and the
 * administrators' page (accounts with Suspend and Lift, the server's audit
 * log).
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { BAN_MINUTES_MAX, REASON_MAX } from "../shared/limits.ts";
import type { AuditPage } from "./moderation.ts";
import type { AdminUser, AuditEntry, Ban } from "./types.ts";
import { Avatar, formatWhen, Modal, useStore } from "./ui.tsx";

/** The longest ban the server takes, in minutes (a year). */

/** The name of a room the user knows, else its id. */
function useRoomName(roomId: string | null): string {
  const store = useStore();
  if (!roomId) return "";
  const room = store.rooms.value.find((r) => r.id === roomId);
  return room ? `#${room.name}` : `room ${roomId}`;
}

/** Asks for a reason and how long, then bans `username` from the room. */
export function BanDialog({ roomId, username }: { roomId: string; username: string }) {
  const store = useStore();
  const room = useRoomName(roomId);
  const reason = useSignal("");
  const timed = useSignal(true);
  const minutes = useSignal("60");
  const error = useSignal("");
  const busy = useSignal(false);
  return (
    <Modal title={`Ban ${username}`}>
      <form
        class="form"
        onSubmit={async (e) => {
          e.preventDefault();
          busy.value = true;
          error.value = "";
          try {
            const length = timed.value ? Number(minutes.value) : undefined;
            await store.moderation.ban(roomId, username, reason.value.trim(), length);
            store.dialog.value = null;
            store.notify("info", `Banned ${username} from ${room}`, [
              length ? `For ${length} min.` : "Until the ban is lifted.",
            ]);
          } catch (err) {
            error.value = (err as Error).message;
          } finally {
            busy.value = false;
          }
        }}
      >
        <p class="muted">
          They leave {room}{" "}
          and cannot rejoin it, be invited to it or post in it while the ban lasts.
        </p>
        <label for="ban-reason">Reason (optional)</label>
        <input
          id="ban-reason"
          maxLength={REASON_MAX}
          aria-describedby="ban-reason-hint"
          value={reason.value}
          onInput={(e) => reason.value = e.currentTarget.value}
          autoComplete="off"
        />
        <p class="hint" id="ban-reason-hint">They are told the reason.</p>
        <fieldset class="choice">
          <legend>How long</legend>
          <div class="ban-length">
            <label>
              <input
                type="radio"
                name="ban-length"
                checked={timed.value}
                onChange={() => timed.value = true}
              />
              For
            </label>
            <input
              type="number"
              aria-label="Minutes"
              min={1}
              max={BAN_MINUTES_MAX}
              step={1}
              required={timed.value}
              value={minutes.value}
              onFocus={() => timed.value = true}
              onInput={(e) => minutes.value = e.currentTarget.value}
            />
            <span>minutes</span>
          </div>
          <label>
            <input
              type="radio"
              name="ban-length"
              checked={!timed.value}
              onChange={() => timed.value = false}
            />
            Until the ban is lifted
          </label>
        </fieldset>
        {error.value ? <p class="error" role="alert">{error.value}</p> : null}
        <div class="form-actions">
          <button type="button" class="button" onClick={() => store.dialog.value = null}>
            Cancel
          </button>
          <button type="submit" class="button primary" disabled={busy.value}>
            Ban {username}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** A room's bans in force, each with Unban; and a way to ban someone by name. */
export function BansDialog({ roomId }: { roomId: string }) {
  const store = useStore();
  const room = useRoomName(roomId);
  const list = useSignal<Ban[] | null>(null);
  const error = useSignal("");
  const name = useSignal("");
  const load = () =>
    store.moderation.bans(roomId).then((b) => list.value = b, (e) => error.value = e.message);
  useEffect(() => void load(), []);
  const unban = async (ban: Ban) => {
    error.value = "";
    try {
      await store.moderation.unban(roomId, ban.user.id);
      store.notify("info", `Lifted the ban on ${ban.user.username}`, []);
      await load();
    } catch (e) {
      error.value = (e as Error).message;
    }
  };
  return (
    <Modal title={`Bans in ${room}`}>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          const username = name.value.trim();
          if (username) store.dialog.value = { kind: "ban", roomId, username };
        }}
      >
        <label for="ban-name" class="sr-only">Username to ban</label>
        <input
          id="ban-name"
          placeholder="Ban someone by username"
          value={name.value}
          onInput={(e) => name.value = e.currentTarget.value}
          autoComplete="off"
        />
        <button type="submit" class="button">Ban…</button>
      </form>
      {error.value ? <p class="error" role="alert">{error.value}</p> : null}
      <h3 class="modal-sub">Banned now</h3>
      {list.value === null
        ? <p class="muted">Loading…</p>
        : list.value.length === 0
        ? <p class="muted">No one is banned from {room}.</p>
        : (
          <ul class="pick-list">
            {list.value.map((b) => (
              <li key={b.user.id} class="pick" data-ban-user={b.user.username}>
                <Avatar name={b.user.username} />
                <span class="pick-text">
                  <span class="pick-name">{b.user.username}</span>
                  <span class="muted">
                    by {b.by.username}, {formatWhen(b.createdAt)} ·{" "}
                    {b.until === null ? "until lifted" : `until ${formatWhen(b.until)}`}
                  </span>
                  {b.reason ? <span class="reason">{b.reason}</span> : null}
                </span>
                <button
                  type="button"
                  class="button small"
                  aria-label={`Unban ${b.user.username}`}
                  onClick={() => unban(b)}
                >
                  Unban
                </button>
              </li>
            ))}
          </ul>
        )}
    </Modal>
  );
}

/** A room's audit log, for its owner and moderators. */
export function AuditDialog({ roomId }: { roomId: string }) {
  const store = useStore();
  return (
    <Modal title={`Audit log of ${useRoomName(roomId)}`} focus="dialog">
      <AuditLog load={(before) => store.moderation.audit(roomId, before)} inRoom />
    </Modal>
  );
}

/**
 * An audit log, newest first, with "Older" while there is more.
 *
 * @param inRoom the log of one room: entries do not name it.
 */
function AuditLog(
  { load, inRoom = false }: {
    load: (before: string | null) => Promise<AuditPage>;
    inRoom?: boolean;
  },
) {
  const entries = useSignal<AuditEntry[] | null>(null);
  const next = useSignal<string | null>(null);
  const busy = useSignal(false);
  const error = useSignal("");
  const more = async (before: string | null) => {
    busy.value = true;
    error.value = "";
    try {
      const page = await load(before);
      entries.value = [...(before ? entries.value ?? [] : []), ...page.entries];
      next.value = page.next;
    } catch (e) {
      error.value = (e as Error).message;
    } finally {
      busy.value = false;
    }
  };
  useEffect(() => void more(null), []);
  return (
    <div>
      {error.value ? <p class="error" role="alert">{error.value}</p> : null}
      {entries.value === null ? (error.value ? null : <p class="muted">Loading…</p>) : (
        entries.value.length === 0
          ? <p class="muted">Nothing on record yet.</p>
          : (
            <ul class="pick-list audit-list">
              {entries.value.map((e) => <AuditItem key={e.id} entry={e} inRoom={inRoom} />)}
            </ul>
          )
      )}
      {next.value
        ? (
          <div class="form-actions">
            <button
              type="button"
              class="button"
              disabled={busy.value}
              onClick={() => more(next.value)}
            >
              Older
            </button>
          </div>
        )
        : null}
    </div>
  );
}

function AuditItem({ entry: e, inRoom }: { entry: AuditEntry; inRoom: boolean }) {
  const room = useRoomName(e.roomId);
  const where = inRoom || !e.roomId || e.action === "delete_room" ? "" : ` in ${room}`;
  return (
    <li class="pick audit" data-audit-action={e.action}>
      <span class="pick-text">
        <span>
          <strong>{e.actor.username}</strong> {describe(e, inRoom ? "the room" : room)}
          {where}
        </span>
        <span class="muted">{formatWhen(e.at)}</span>
        {e.reason ? <span class="reason">Reason: {e.reason}</span> : null}
      </span>
    </li>
  );
}

/** "removed bob", "made ann a moderator": what an entry's actor did (`room`: the room's name). */
function describe(e: AuditEntry, room: string): string {
  const who = e.target.username ?? e.target.userId ?? "someone";
  switch (e.action) {
    case "role":
      return e.role === "owner"
        ? `handed the room to ${who}`
        : `made ${who} ${e.role === "moderator" ? "a moderator" : "a member"}`;
    case "kick":
      return `removed ${who}`;
    case "ban":
      return `banned ${who}`;
    case "unban":
      return `lifted the ban on ${who}`;
    case "delete_message":
      return `deleted a message by ${who}` + (e.seq ? ` (#${e.seq})` : "");
    case "delete_room":
      return `deleted ${room || "a room"}`;
    case "suspend":
      return `suspended ${who}`;
    case "unsuspend":
      return `lifted the suspension of ${who}`;
  }
}

/** The administrators' page: accounts with Suspend and Lift, and the server's audit log. */
export function AdminDialog() {
  const store = useStore();
  const users = useSignal<AdminUser[] | null>(null);
  const next = useSignal<string | null>(null);
  const error = useSignal("");
  const busy = useSignal(false);
  /** Bumped by each suspension, so the log shows it. */
  const version = useSignal(0);
  const more = async (after: string | null) => {
    busy.value = true;
    error.value = "";
    try {
      const page = await store.moderation.accounts(after);
      users.value = [...(after ? users.value ?? [] : []), ...page.users];
      next.value = page.next;
    } catch (e) {
      error.value = (e as Error).message;
    } finally {
      busy.value = false;
    }
  };
  useEffect(() => void more(null), []);
  const changed = (user: AdminUser) => {
    users.value = users.value?.map((u) => u.id === user.id ? user : u) ?? null;
    version.value++;
  };
  return (
    <Modal title="Administration" focus="dialog" wide>
      <section aria-labelledby="accounts-title">
        <h3 class="modal-sub" id="accounts-title">Accounts</h3>
        {error.value ? <p class="error" role="alert">{error.value}</p> : null}
        {users.value === null
          ? (error.value ? null : <p class="muted">Loading…</p>)
          : (
            <ul class="pick-list">
              {users.value.map((u) => <AccountItem key={u.id} user={u} onChange={changed} />)}
            </ul>
          )}
        {next.value
          ? (
            <div class="form-actions">
              <button
                type="button"
                class="button"
                disabled={busy.value}
                onClick={() => more(next.value)}
              >
                More accounts
              </button>
            </div>
          )
          : null}
      </section>
      <section aria-labelledby="server-audit-title">
        <h3 class="modal-sub" id="server-audit-title">Audit log</h3>
        <AuditLog key={version.value} load={(before) => store.moderation.serverAudit(before)} />
      </section>
    </Modal>
  );
}

function AccountItem(
  { user: u, onChange }: { user: AdminUser; onChange: (u: AdminUser) => void },
) {
  const store = useStore();
  const asking = useSignal(false);
  const error = useSignal("");
  const busy = useSignal(false);
  const suspended = u.status === "suspended";
  const act = async (action: () => Promise<void>, after: AdminUser) => {
    busy.value = true;
    error.value = "";
    try {
      await action();
      asking.value = false;
      onChange(after);
    } catch (e) {
      error.value = (e as Error).message;
    } finally {
      busy.value = false;
    }
  };
  return (
    <li class="pick account" data-account={u.username}>
      <Avatar name={u.username} />
      <span class="pick-text">
        <span class="pick-name">
          {u.username}
          {u.id === store.me.value?.id ? <span class="muted you">(you)</span> : null}
          {suspended ? <span class="tag tag-danger">suspended</span> : null}
        </span>
        <span class="muted">
          {u.rooms} {u.rooms === 1 ? "room" : "rooms"} · last seen{" "}
          {u.lastSeen === null ? "never" : formatWhen(u.lastSeen)} · joined{" "}
          {formatWhen(u.createdAt)}
        </span>
        {suspended && u.suspendedReason
          ? <span class="reason">Reason: {u.suspendedReason}</span>
          : null}
        {asking.value
          ? (
            <SuspendForm
              username={u.username}
              busy={busy.value}
              onCancel={() => asking.value = false}
              onSuspend={(why) =>
                act(
                  () => store.moderation.suspend(u.username, why),
                  { ...u, status: "suspended", suspendedReason: why || null },
                )}
            />
          )
          : null}
        {error.value ? <span class="error" role="alert">{error.value}</span> : null}
      </span>
      {suspended
        ? (
          <button
            type="button"
            class="button small"
            aria-label={`Lift the suspension of ${u.username}`}
            disabled={busy.value}
            onClick={() =>
              act(
                () => store.moderation.unsuspend(u.username),
                { ...u, status: "active", suspendedReason: null },
              )}
          >
            Lift
          </button>
        )
        : u.id === store.me.value?.id || asking.value
        ? null
        : (
          <button
            type="button"
            class="button small"
            aria-label={`Suspend ${u.username}`}
            onClick={() => asking.value = true}
          >
            Suspend
          </button>
        )}
    </li>
  );
}

/** Asks why, then suspends. */
function SuspendForm(
  { username, busy, onSuspend, onCancel }: {
    username: string;
    busy: boolean;
    onSuspend: (reason: string) => void;
    onCancel: () => void;
  },
) {
  const reason = useSignal("");
  const field = useRef<HTMLInputElement>(null);
  useEffect(() => field.current?.focus(), []);
  const id = `suspend-reason-${username}`;
  return (
    <form
      class="row suspend-form"
      onSubmit={(e) => {
        e.preventDefault();
        onSuspend(reason.value.trim());
      }}
    >
      <label for={id} class="sr-only">Why suspend {username}</label>
      <input
        id={id}
        ref={field}
        placeholder="Reason (optional)"
        maxLength={REASON_MAX}
        value={reason.value}
        onInput={(e) => reason.value = e.currentTarget.value}
        onKeyDown={(e) => {
          if (e.key === "Escape") {
            e.stopPropagation();
            onCancel();
          }
        }}
        autoComplete="off"
      />
      <button type="submit" class="button small danger" disabled={busy}>Suspend</button>
      <button type="button" class="button small" onClick={onCancel}>Cancel</button>
    </form>
  );
}
