/**
 * The dialogs: create a room, browse and join rooms, choose someone to
 * message, and the account (sessions, password, presence, blocks); the
 * moderation dialogs are in `moderation_dialogs.tsx`.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { CAPACITY_DEFAULT, CAPACITY_MAX, CAPACITY_MIN, ROOM_NAME_MAX } from "../shared/limits.ts";
import type { StorageUse } from "./account.ts";
import { api, ApiFailure } from "./client_api.ts";
import { SafetyDialog } from "./encryption_ui.tsx";
import { AdminDialog, AuditDialog, BanDialog, BansDialog } from "./moderation_dialogs.tsx";
import type { PresenceVisibility, PublicRoom, SessionInfo, User, UserPresence } from "./types.ts";
import { Avatar, deviceName, formatWhen, Modal, PresenceDot, useStore } from "./ui.tsx";
import { formatBytes } from "./uploads.ts";

/** Whichever dialog is open. */
export function Dialogs() {
  const store = useStore();
  const which = store.dialog.value;
  const roomId = store.currentId.value;
  if (which === "create") return <CreateRoomDialog />;
  if (which === "browse") return <BrowseDialog />;
  if (which === "people") return <PeopleDialog />;
  if (which === "account" || which === "password") {
    return <AccountDialog key={which} password={which === "password"} />;
  }
  if (which === "admin") return <AdminDialog />;
  if (which === "bans" && roomId) return <BansDialog key={roomId} roomId={roomId} />;
  if (which === "audit" && roomId) return <AuditDialog key={roomId} roomId={roomId} />;
  if (which && typeof which === "object" && which.kind === "safety") {
    return <SafetyDialog key={which.roomId} roomId={which.roomId} />;
  }
  if (which && typeof which === "object") return <BanDialog {...which} />;
  return null;
}

function CreateRoomDialog() {
  const store = useStore();
  const name = useSignal("");
  const isPrivate = useSignal(false);
  const capacity = useSignal(String(CAPACITY_DEFAULT));
  const error = useSignal("");
  const busy = useSignal(false);
  return (
    <Modal title="Create a room">
      <form
        class="form"
        onSubmit={async (e) => {
          e.preventDefault();
          busy.value = true;
          error.value = "";
          try {
            await store.createRoom(name.value.trim(), isPrivate.value, Number(capacity.value));
          } catch (err) {
            error.value = (err as Error).message;
          } finally {
            busy.value = false;
          }
        }}
      >
        <label for="room-name">Room name</label>
        <input
          id="room-name"
          required
          maxLength={ROOM_NAME_MAX}
          value={name.value}
          onInput={(e) => name.value = e.currentTarget.value}
          placeholder="e.g. design-team"
        />
        <fieldset class="choice">
          <legend>Who can join</legend>
          <label>
            <input
              type="radio"
              name="visibility"
              checked={!isPrivate.value}
              onChange={() => isPrivate.value = false}
            />
            Public: anyone can find and join it
          </label>
          <label>
            <input
              type="radio"
              name="visibility"
              checked={isPrivate.value}
              onChange={() => isPrivate.value = true}
            />
            Private: only people you invite
          </label>
        </fieldset>
        <label for="room-capacity">Capacity</label>
        <input
          id="room-capacity"
          type="number"
          min={CAPACITY_MIN}
          max={CAPACITY_MAX}
          required
          value={capacity.value}
          onInput={(e) => capacity.value = e.currentTarget.value}
        />
        {error.value ? <p class="error" role="alert">{error.value}</p> : null}
        <div class="form-actions">
          <button type="button" class="button" onClick={() => store.dialog.value = null}>
            Cancel
          </button>
          <button type="submit" class="button primary" disabled={busy.value}>Create room</button>
        </div>
      </form>
    </Modal>
  );
}

function BrowseDialog() {
  const store = useStore();
  const list = useSignal<PublicRoom[] | null>(null);
  const roomId = useSignal("");
  const error = useSignal("");
  useEffect(() => {
    api<{ rooms: PublicRoom[] }>("GET", "/api/rooms/public?limit=100").then(
      (r) => list.value = r.rooms,
      (e) => error.value = e.message,
    );
  }, []);
  const mine = new Set(store.rooms.value.map((r) => r.id));
  const join = (id: string) => {
    error.value = "";
    (mine.has(id) ? store.openRoom(id) : store.joinRoom(id)).catch((e) => error.value = e.message);
  };
  return (
    <Modal title="Browse rooms">
      <form
        class="row join-by-id"
        onSubmit={(e) => {
          e.preventDefault();
          if (roomId.value.trim()) join(roomId.value.trim());
        }}
      >
        <label for="join-id" class="sr-only">Room id</label>
        <input
          id="join-id"
          placeholder="Join by room id"
          value={roomId.value}
          onInput={(e) => roomId.value = e.currentTarget.value}
          autoComplete="off"
        />
        <button type="submit" class="button">Join by id</button>
      </form>
      {error.value ? <p class="error" role="alert">{error.value}</p> : null}
      <h3 class="modal-sub">Public rooms</h3>
      {list.value === null
        ? <p class="muted">Loading…</p>
        : list.value.length === 0
        ? <p class="muted">No public rooms yet. Create the first one.</p>
        : (
          <ul class="pick-list">
            {list.value.map((r) => (
              <li key={r.id} class="pick">
                <Avatar name={r.name} group />
                <span class="pick-text">
                  <span class="pick-name">{r.name}</span>
                  <span class="muted">{r.memberCount} of {r.capacity} members</span>
                </span>
                <button
                  type="button"
                  class={`button small${mine.has(r.id) ? "" : " primary"}`}
                  aria-label={`${mine.has(r.id) ? "Open" : "Join"} ${r.name}`}
                  disabled={!mine.has(r.id) && r.memberCount >= r.capacity}
                  onClick={() => join(r.id)}
                >
                  {mine.has(r.id) ? "Open" : r.memberCount >= r.capacity ? "Full" : "Join"}
                </button>
              </li>
            ))}
          </ul>
        )}
    </Modal>
  );
}

function PeopleDialog() {
  const store = useStore();
  const filter = useSignal("");
  const error = useSignal("");
  const encrypted = useSignal(false);
  useEffect(() => {
    store.refreshPeople().catch((e) => error.value = e.message);
  }, []);
  const me = store.me.value!;
  const query = filter.value.trim().toLowerCase();
  const people: UserPresence[] = store.people.value
    .filter((u) => u.id !== me.id && u.username.toLowerCase().includes(query))
    .sort((a, b) =>
      Number(store.online.value[b.id] ?? false) - Number(store.online.value[a.id] ?? false)
    );
  return (
    <Modal title="Choose someone to chat with">
      <label for="people-filter" class="sr-only">Search people</label>
      <input
        id="people-filter"
        placeholder="Search people"
        value={filter.value}
        onInput={(e) => filter.value = e.currentTarget.value}
        autoComplete="off"
      />
      <label class="check-line">
        <input
          type="checkbox"
          checked={encrypted.value}
          onChange={(e) => encrypted.value = e.currentTarget.checked}
        />
        End-to-end encrypted: only your devices and theirs can read it
      </label>
      {error.value ? <p class="error" role="alert">{error.value}</p> : null}
      {people.length === 0 ? <p class="muted">No one matches.</p> : (
        <ul class="pick-list">
          {people.map((u) => (
            <li key={u.id} class="pick">
              <Avatar name={u.username} online={store.online.value[u.id] ?? false} />
              <span class="pick-text">
                <span class="pick-name">{u.username}</span>
                <span class="muted">
                  <PresenceDot online={store.online.value[u.id] ?? false} />{" "}
                  {store.online.value[u.id] ? "online" : "offline"}
                </span>
              </span>
              <BlockButton user={u} onError={(m) => error.value = m} />
              <button
                type="button"
                class="button small primary"
                aria-label={`Message ${u.username}`}
                onClick={() =>
                  store.openDirect(u.username, undefined, encrypted.value).catch((e) =>
                    error.value = e.message
                  )}
              >
                Message
              </button>
            </li>
          ))}
        </ul>
      )}
    </Modal>
  );
}

/** Block or Unblock, for one user. */
function BlockButton({ user, onError }: { user: User; onError: (message: string) => void }) {
  const store = useStore();
  const blocked = store.account.isBlocked(user.id);
  const busy = useSignal(false);
  return (
    <button
      type="button"
      class="button small"
      aria-label={`${blocked ? "Unblock" : "Block"} ${user.username}`}
      disabled={busy.value}
      onClick={async () => {
        busy.value = true;
        try {
          if (blocked) await store.account.unblock(user);
          else await store.account.block(user.username);
        } catch (e) {
          onError((e as Error).message);
        } finally {
          busy.value = false;
        }
      }}
    >
      {blocked ? "Unblock" : "Block"}
    </button>
  );
}

/** The account: sessions, password, who sees your presence, whom you block. */
function AccountDialog({ password }: { password: boolean }) {
  return (
    <Modal title="Your account" focus={password ? "#current-password" : "dialog"}>
      <AdminSection />
      <SessionsSection />
      <PasswordSection />
      <PresenceSection />
      <NotificationsSection />
      <StorageSection />
      <BlockedSection />
    </Modal>
  );
}

/** For administrators: the way to the administration dialog. */
function AdminSection() {
  const store = useStore();
  if (!store.admin.value) return null;
  return (
    <section class="admin-link">
      <p class="muted">You administer this server.</p>
      <button type="button" class="button" onClick={() => store.dialog.value = "admin"}>
        Administration
      </button>
    </section>
  );
}

function SessionsSection() {
  const store = useStore();
  const list = useSignal<SessionInfo[] | null>(null);
  const error = useSignal("");
  const load = () =>
    store.account.sessions().then(
      (s) => list.value = s,
      (e) => error.value = e.message,
    );
  useEffect(() => void load(), []);
  const end = async (session: SessionInfo) => {
    error.value = "";
    try {
      await store.account.endSession(session);
      await load();
    } catch (e) {
      error.value = (e as Error).message;
    }
  };
  return (
    <section aria-labelledby="sessions-title">
      <h3 class="modal-sub" id="sessions-title">Where you are signed in</h3>
      {error.value ? <p class="error" role="alert">{error.value}</p> : null}
      {list.value === null ? <p class="muted">Loading…</p> : (
        <ul class="pick-list session-list">
          {list.value.map((s) => {
            const name = deviceName(s.device);
            return (
              <li key={s.id} class="pick session" data-session-id={s.id}>
                <span class="pick-text">
                  <span class="pick-name" title={s.device}>
                    {name}
                    {s.current ? <span class="tag tag-accent">this device</span> : null}
                  </span>
                  <span class="muted">
                    {s.address} · signed in {formatWhen(s.createdAt)} · last used{" "}
                    {formatWhen(s.lastUsedAt)}
                  </span>
                </span>
                <button
                  type="button"
                  class="button small"
                  aria-label={s.current
                    ? "Sign out on this device"
                    : `Sign out ${name} at ${s.address}, last used ${formatWhen(s.lastUsedAt)}`}
                  onClick={() => end(s)}
                >
                  Sign out
                </button>
              </li>
            );
          })}
        </ul>
      )}
      <div class="form-actions">
        <button
          type="button"
          class="button danger"
          onClick={() => {
            if (!confirm("Sign out on every device, this one too?")) return;
            store.account.logoutAll().catch((e) => error.value = e.message);
          }}
        >
          Sign out everywhere
        </button>
      </div>
    </section>
  );
}

function PasswordSection() {
  const store = useStore();
  const current = useSignal("");
  const next = useSignal("");
  const error = useSignal("");
  const done = useSignal(false);
  const busy = useSignal(false);
  const edited = () => {
    error.value = "";
    done.value = false;
  };
  return (
    <section aria-labelledby="password-title">
      <h3 class="modal-sub" id="password-title">Change password</h3>
      <form
        class="form"
        onSubmit={async (e) => {
          e.preventDefault();
          busy.value = true;
          edited();
          try {
            await store.account.changePassword(current.value, next.value);
            current.value = "";
            next.value = "";
            done.value = true;
          } catch (err) {
            error.value = err instanceof ApiFailure && err.code === "bad_credentials"
              ? "Your current password is not right. Nothing was changed."
              : (err as Error).message;
          } finally {
            busy.value = false;
          }
        }}
      >
        <label for="current-password">Current password</label>
        <input
          id="current-password"
          type="password"
          autoComplete="current-password"
          required
          maxLength={128}
          value={current.value}
          onInput={(e) => {
            current.value = e.currentTarget.value;
            edited();
          }}
        />
        <label for="new-password">New password</label>
        <input
          id="new-password"
          type="password"
          autoComplete="new-password"
          required
          minLength={8}
          maxLength={128}
          aria-describedby="new-password-hint"
          value={next.value}
          onInput={(e) => {
            next.value = e.currentTarget.value;
            edited();
          }}
        />
        <p class="hint" id="new-password-hint">
          At least 8 characters. Your other devices will be signed out.
        </p>
        {error.value ? <p class="error" role="alert">{error.value}</p> : null}
        <p class="success" role="status">
          {done.value ? "Password changed. Your other devices were signed out." : ""}
        </p>
        <div class="form-actions">
          <button type="submit" class="button primary" disabled={busy.value}>
            Change password
          </button>
        </div>
      </form>
    </section>
  );
}

function PresenceSection() {
  const store = useStore();
  const value = useSignal<PresenceVisibility | null>(null);
  const error = useSignal("");
  const saved = useSignal(false);
  useEffect(() => {
    store.account.presence().then((v) => value.value = v, (e) => error.value = e.message);
  }, []);
  const choose = async (next: PresenceVisibility) => {
    const before = value.value;
    value.value = next;
    error.value = "";
    saved.value = false;
    try {
      value.value = await store.account.setPresence(next);
      saved.value = true;
    } catch (e) {
      value.value = before;
      error.value = (e as Error).message;
    }
  };
  const options: [PresenceVisibility, string][] = [
    ["everyone", "Everyone"],
    ["contacts", "Only people I share a room or conversation with"],
  ];
  return (
    <section>
      <fieldset class="choice">
        <legend class="modal-sub">Who sees when you are online</legend>
        {options.map(([v, label]) => (
          <label key={v}>
            <input
              type="radio"
              name="presence"
              checked={value.value === v}
              disabled={value.value === null}
              onChange={() => choose(v)}
            />
            {label}
          </label>
        ))}
      </fieldset>
      {error.value ? <p class="error" role="alert">{error.value}</p> : null}
      <p class="success" role="status">{saved.value ? "Saved." : ""}</p>
    </section>
  );
}

/** Whether the browser may notify, and the button that asks it. */
function NotificationsSection() {
  const store = useStore();
  const { permission, enable, refresh } = store.notifications;
  useEffect(refresh, []);
  const state = permission.value;
  if (state === "unsupported") return null;
  return (
    <section aria-labelledby="notifications-title">
      <h3 class="modal-sub" id="notifications-title">Notifications</h3>
      <p class="muted" role="status">
        {state === "granted"
          ? "On: while Parley is in the background, direct messages and mentions of you " +
            "notify you. Mute a room to silence it."
          : state === "denied"
          ? "Blocked in this browser. Allow notifications for this site in the browser's " +
            "settings to have them."
          : "Hear about direct messages and mentions of you while Parley is in the background."}
      </p>
      {state === "default"
        ? (
          <button type="button" class="button" onClick={() => enable().catch(() => {})}>
            Enable notifications
          </button>
        )
        : null}
    </section>
  );
}

/** What the user's files take of their quota. */
function StorageSection() {
  const store = useStore();
  const storage = useSignal<StorageUse | null>(null);
  const error = useSignal("");
  useEffect(() => {
    store.account.storage().then((s) => storage.value = s, (e) => error.value = e.message);
  }, []);
  const use = storage.value;
  return (
    <section aria-labelledby="storage-title">
      <h3 class="modal-sub" id="storage-title">Storage</h3>
      {error.value ? <p class="error" role="alert">{error.value}</p> : null}
      {use === null ? (error.value ? null : <p class="muted">Loading…</p>) : (
        <>
          <p class="storage-text">
            {formatBytes(use.used)} of {formatBytes(use.quota)} used by your files
          </p>
          <meter
            class="storage-meter"
            aria-labelledby="storage-title"
            min={0}
            max={use.quota}
            value={use.used}
            high={use.quota * 0.9}
          />
          <p class="hint">Files go when the messages that carry them are deleted.</p>
        </>
      )}
    </section>
  );
}

function BlockedSection() {
  const store = useStore();
  const error = useSignal("");
  const blocked = Object.values(store.blocked.value)
    .sort((a, b) => a.username.localeCompare(b.username));
  return (
    <section aria-labelledby="blocked-title">
      <h3 class="modal-sub" id="blocked-title">Blocked people</h3>
      {error.value ? <p class="error" role="alert">{error.value}</p> : null}
      {blocked.length === 0
        ? <p class="muted">You block no one. Block someone from their menu or with /block.</p>
        : (
          <ul class="pick-list">
            {blocked.map((u) => (
              <li key={u.id} class="pick">
                <Avatar name={u.username} />
                <span class="pick-text">
                  <span class="pick-name">{u.username}</span>
                </span>
                <BlockButton user={u} onError={(m) => error.value = m} />
              </li>
            ))}
          </ul>
        )}
    </section>
  );
}
