/**
 * The sidebar: invitations waiting for an answer, the user's conversations
 * with unread badges and presence, who is online, the ways to start
 * something new, and the account menu.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { previewOf } from "./encryption_ui.tsx";
import type { Invitation, Room } from "./types.ts";
import { Avatar, Icon, useStore } from "./ui.tsx";

/** The left column. */
export function Sidebar() {
  const store = useStore();
  const me = store.me.value!;
  return (
    <aside class="sidebar" aria-label="Conversations">
      <header class="side-head">
        <a class="brand" href="/">
          <span class="brand-mark" aria-hidden="true">P</span>Parley
        </a>
        <button
          type="button"
          class="icon-button"
          aria-label="New room"
          title="New room"
          onClick={() => store.dialog.value = "create"}
        >
          <Icon name="plus" />
        </button>
      </header>
      <div class="side-actions">
        <button type="button" class="side-action" onClick={() => store.dialog.value = "browse"}>
          <Icon name="compass" /> Browse rooms
        </button>
        <button type="button" class="side-action" onClick={() => store.dialog.value = "people"}>
          <Icon name="chat" /> New message
        </button>
      </div>
      <nav class="side-scroll" aria-label="Your rooms">
        <Invitations />
        <h2 class="side-title">Conversations</h2>
        <RoomList />
        <h2 class="side-title">Online now</h2>
        <OnlineList />
      </nav>
      <footer class="side-me">
        <button
          type="button"
          class="me-button"
          aria-haspopup="dialog"
          onClick={() => store.dialog.value = "account"}
        >
          <Avatar name={me.username} online />
          <span class="side-me-text">
            <span class="side-me-name">{me.username}</span>
            <span class="side-me-hint">
              {store.admin.value ? "Account and administration" : "Account settings"}
            </span>
          </span>
        </button>
        <button type="button" class="link-button" onClick={() => store.logout()}>Log out</button>
      </footer>
    </aside>
  );
}

/** Invitations waiting for an answer; the list is live, so a new one is announced. */
function Invitations() {
  const list = useStore().invitations.value;
  return (
    <div aria-live="polite">
      {list.length
        ? (
          <>
            <h2 class="side-title">Invitations</h2>
            <ul class="invite-list">
              {list.map((i) => <InvitationItem key={i.roomId} invitation={i} />)}
            </ul>
          </>
        )
        : null}
    </div>
  );
}

function InvitationItem({ invitation: i }: { invitation: Invitation }) {
  const store = useStore();
  const busy = useSignal(false);
  const answer = async (accept: boolean) => {
    busy.value = true;
    try {
      await (accept ? store.acceptInvitation(i.roomId) : store.declineInvitation(i.roomId));
    } catch (e) {
      store.notify(
        "error",
        accept ? `Could not join ${i.roomName}` : "Could not decline the invitation",
        [(e as Error).message],
      );
    } finally {
      busy.value = false;
    }
  };
  return (
    <li class="invite-item" data-invite-room={i.roomId}>
      <Avatar name={i.roomName} group />
      <span class="room-text">
        <span class="room-name">
          {i.roomName}
          {i.private ? <span class="tag" title="Private room">private</span> : null}
        </span>
        <span class="room-preview">{i.by.username} invited you</span>
      </span>
      <span class="invite-actions">
        <button
          type="button"
          class="button small primary"
          aria-label={`Accept the invitation to ${i.roomName}`}
          disabled={busy.value}
          onClick={() => answer(true)}
        >
          Accept
        </button>
        <button
          type="button"
          class="button small"
          aria-label={`Decline the invitation to ${i.roomName}`}
          disabled={busy.value}
          onClick={() => answer(false)}
        >
          Decline
        </button>
      </span>
    </li>
  );
}

function RoomList() {
  const store = useStore();
  const rooms = store.rooms.value;
  if (!rooms.length) {
    return <p class="side-empty">No conversations yet. Create a room or message someone.</p>;
  }
  return (
    <ul class="room-list">
      {rooms.map((room) => <RoomItem key={room.id} room={room} />)}
    </ul>
  );
}

/** What a message of files alone shows as its preview: the file's name, or how many. */
function filesOf(list: { name: string }[]): string {
  return list.length === 1 ? list[0].name : list.length ? `${list.length} files` : "";
}

function RoomItem({ room }: { room: Room }) {
  const store = useStore();
  const active = store.currentId.value === room.id;
  const online = room.peer ? store.online.value[room.peer.id] ?? false : undefined;
  const last = room.lastMessage;
  const lastText = last ? previewOf(store, last) : "";
  const preview = last?.notice
    ? lastText
    : last
    ? `${last.author.id === store.me.value?.id ? "You" : last.author.username}: ` +
      (last.envelope || last.deleted ? lastText : last.text || filesOf(last.attachments ?? []))
    : room.kind === "direct"
    ? "Say hello"
    : "No messages yet";
  return (
    <li>
      <a
        href={`/rooms/${room.id}`}
        class={`room-item${active ? " active" : ""}${room.unread ? " has-unread" : ""}` +
          (room.muted ? " muted-room" : "")}
        aria-current={active ? "page" : undefined}
        data-room-id={room.id}
        onClick={(e) => {
          if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
          e.preventDefault();
          store.openRoom(room.id);
        }}
      >
        <Avatar name={room.name} group={room.kind === "group"} online={online} />
        <span class="room-text">
          <span class="room-name">
            {room.name}
            {room.encrypted
              ? (
                <span class="room-lock" title="End-to-end encrypted">
                  <Icon name="lock" />
                  <span class="sr-only">end-to-end encrypted</span>
                </span>
              )
              : null}
            {room.private && room.kind === "group"
              ? <span class="tag" title="Private room">private</span>
              : null}
          </span>
          <span class="room-preview">{preview}</span>
        </span>
        {room.muted
          ? (
            <span class="room-muted" title="Muted">
              <Icon name="muted" />
              <span class="sr-only">muted</span>
            </span>
          )
          : null}
        {room.mentions
          ? (
            <span
              class="badge badge-mention"
              aria-label={`${room.mentions} ${room.mentions === 1 ? "mention" : "mentions"}`}
            >
              {room.mentions > 1 ? `@${room.mentions > 99 ? "99+" : room.mentions}` : "@"}
            </span>
          )
          : null}
        {room.unread
          ? (
            <span class="badge" aria-label={`${room.unread} unread`}>
              {room.unread > 99 ? "99+" : room.unread}
            </span>
          )
          : null}
      </a>
    </li>
  );
}

function OnlineList() {
  const store = useStore();
  const me = store.me.value;
  const online = store.people.value.filter((u) => u.id !== me?.id && store.online.value[u.id]);
  if (!online.length) return <p class="side-empty">No one else is online.</p>;
  return (
    <ul class="people-list">
      {online.map((u) => (
        <li key={u.id}>
          <button
            type="button"
            class="person"
            aria-label={`Message ${u.username}`}
            onClick={() =>
              store.openDirect(u.username).catch((e) =>
                store.notify("error", "Could not open the conversation", [e.message])
              )}
          >
            <Avatar name={u.username} online size="sm" />
            <span>{u.username}</span>
          </button>
        </li>
      ))}
    </ul>
  );
}
