/**
 * The open conversation: its header, the messages, the composer and the
 * member list; and the home view when none is open.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import { parseCommand } from "../shared/commands.ts";
import { MESSAGE_MAX } from "../shared/limits.ts";
import { MessageAttachments, UploadList } from "./attachments.tsx";
import {
  EncryptButton,
  EncryptedFiles,
  EncryptionBar,
  LockButton,
  NoticeLine,
  quoteText,
  Undecryptable,
} from "./encryption_ui.tsx";
import { splitLinks, splitMentions } from "./linkify.ts";
import { useMentionInput } from "./mention_input.tsx";
import { Quote, ReactionPicker, Reactions } from "./message_extras.tsx";
import type { Conversation, Pending } from "./store.ts";
import type { Member, Message, Room } from "./types.ts";
import {
  ActionMenu,
  Avatar,
  formatDay,
  formatTime,
  formatWhen,
  Icon,
  type MenuItem,
  PresenceDot,
  useStore,
} from "./ui.tsx";

/** The main column: the open conversation, a problem with it, or home. */
export function Main() {
  const store = useStore();
  const id = store.currentId.value;
  const room = store.current.value;
  const problem = store.problem.value;
  let body: JSX.Element;
  if (id && problem?.roomId === id) body = <RoomProblemView />;
  else if (id && room) body = <ConversationView room={room} />;
  else if (id) {
    body = (
      <div class="empty-state">
        <p>Loading…</p>
      </div>
    );
  } else body = <Home />;
  return (
    <main class="main" id="main">
      <ConnectionBanner />
      {body}
    </main>
  );
}

function ConnectionBanner() {
  const status = useStore().status.value;
  return (
    <div class={`banner${status === "reconnecting" ? " banner-show" : ""}`} role="status">
      {status === "reconnecting" ? "Reconnecting… messages will catch up when you are back." : ""}
    </div>
  );
}

function Home() {
  const store = useStore();
  const me = store.me.value!;
  return (
    <section class="home" aria-labelledby="home-title">
      <div class="home-card">
        <h1 id="home-title">Welcome, {me.username}</h1>
        <p>Pick a conversation on the left, or choose someone to chat with.</p>
        <div class="home-actions">
          <button
            type="button"
            class="button primary"
            onClick={() => store.dialog.value = "people"}
          >
            Choose someone to chat with
          </button>
          <button type="button" class="button" onClick={() => store.dialog.value = "create"}>
            Create a room
          </button>
          <button type="button" class="button" onClick={() => store.dialog.value = "browse"}>
            Browse public rooms
          </button>
        </div>
        <Notices />
      </div>
    </section>
  );
}

function RoomProblemView() {
  const store = useStore();
  const problem = store.problem.value!;
  const invitation = store.invitations.value.find((i) => i.roomId === problem.roomId);
  const canJoin = problem.code === "not_member";
  const error = useSignal("");
  return (
    <section class="home">
      <div class="home-card">
        <BackButton />
        <h1>
          {invitation
            ? `${invitation.by.username} invited you to ${invitation.roomName}`
            : canJoin
            ? "You are not in this room yet"
            : "This conversation is not available"}
        </h1>
        <p>{invitation ? "You join it when you accept." : problem.message}</p>
        {error.value ? <p class="error" role="alert">{error.value}</p> : null}
        <div class="home-actions">
          {invitation
            ? (
              <button
                type="button"
                class="button primary"
                onClick={() =>
                  store.acceptInvitation(problem.roomId).catch((e) => error.value = e.message)}
              >
                Accept invitation
              </button>
            )
            : canJoin
            ? (
              <button
                type="button"
                class="button primary"
                onClick={() => store.joinRoom(problem.roomId).catch((e) => error.value = e.message)}
              >
                Join room
              </button>
            )
            : null}
          <button type="button" class="button" onClick={() => store.goHome()}>
            Back to conversations
          </button>
        </div>
      </div>
    </section>
  );
}

function BackButton() {
  const store = useStore();
  // On a phone the sidebar is hidden behind this button: show what waits there.
  const elsewhere = store.unreadTotal.value - (store.current.value?.unread ?? 0);
  return (
    <button
      type="button"
      class="icon-button back"
      aria-label={elsewhere
        ? `Back to conversations, ${elsewhere} unread`
        : "Back to conversations"}
      onClick={() => store.goHome()}
    >
      <Icon name="back" />
      {elsewhere
        ? <span class="badge back-badge">{elsewhere > 99 ? "99+" : elsewhere}</span>
        : null}
    </button>
  );
}

function ConversationView({ room }: { room: Room }) {
  const store = useStore();
  const conv = store.conversation(room.id);
  const peerOnline = room.peer ? store.online.value[room.peer.id] ?? false : false;
  const peerBlocked = room.peer ? store.account.isBlocked(room.peer.id) : false;
  const subtitle = room.kind === "direct"
    ? (peerBlocked ? "Blocked" : peerOnline ? "Online" : "Offline")
    : `${room.memberCount} ${room.memberCount === 1 ? "member" : "members"}` +
      (room.private ? " · private" : " · public");
  const sub = room.muted ? `${subtitle} · muted` : subtitle;
  return (
    <section class="conversation" aria-labelledby="conv-title">
      <header class="conv-head">
        <BackButton />
        <Avatar
          name={room.name}
          group={room.kind === "group"}
          online={room.peer ? peerOnline : undefined}
        />
        <div class="conv-title">
          <h1 id="conv-title">{room.name}</h1>
          <p class="conv-sub">{sub}</p>
        </div>
        <div class="conv-actions">
          {room.kind !== "direct"
            ? null
            : room.encrypted
            ? <LockButton room={room} />
            : <EncryptButton room={room} />}
          <button
            type="button"
            class="button small"
            title={room.muted
              ? "Notify me again of direct messages and mentions here"
              : "No notifications from here; unread still counts"}
            onClick={() =>
              store.essentials.setMuted(room.id, !room.muted).catch((e) =>
                store.notify("error", room.muted ? "Could not unmute" : "Could not mute", [
                  e.message,
                ])
              )}
          >
            {room.muted ? "Unmute" : "Mute"}
          </button>
          <button
            type="button"
            class={`icon-button${store.showMembers.value ? " pressed" : ""}`}
            aria-label="Members"
            aria-pressed={store.showMembers.value}
            title="Members"
            onClick={() => store.showMembers.value = !store.showMembers.value}
          >
            <Icon name="people" />
          </button>
          <button
            type="button"
            class="button small"
            aria-label={room.kind === "group" ? "Leave" : "Leave conversation"}
            onClick={() => {
              const question = room.kind === "group"
                ? `Leave ${room.name}?`
                : `Leave your conversation with ${room.name}? It comes back if they write again.`;
              if (confirm(question)) {
                store.leaveRoom(room.id).catch((e) =>
                  store.notify("error", "Could not leave", [e.message])
                );
              }
            }}
          >
            Leave
          </button>
        </div>
      </header>
      <div class="conv-body">
        <DropZone room={room}>
          <MessageList room={room} conv={conv} />
          <TypingLine roomId={room.id} />
          <Notices />
          <EncryptionBar room={room} />
          <Composer room={room} />
        </DropZone>
        {store.showMembers.value ? <MembersPanel room={room} /> : null}
      </div>
    </section>
  );
}

/** Whether a drag carries files (not text or a link). */
function carriesFiles(e: DragEvent): boolean {
  return [...(e.dataTransfer?.types ?? [])].includes("Files");
}

/** The conversation's column, where files dropped are attached to the next message. */
function DropZone({ room, children }: { room: Room; children: ComponentChildren }) {
  const store = useStore();
  const over = useSignal(false);
  // dragenter and dragleave come for every child crossed: count them.
  const depth = useRef(0);
  useEffect(() => {
    // A file dropped beside the column must not replace the app with itself.
    const stop = (e: DragEvent) => carriesFiles(e) && e.preventDefault();
    addEventListener("dragover", stop);
    addEventListener("drop", stop);
    return () => {
      removeEventListener("dragover", stop);
      removeEventListener("drop", stop);
    };
  }, []);
  const leave = () => {
    depth.current = 0;
    over.value = false;
  };
  return (
    <div
      class={`conv-column${over.value ? " dropping" : ""}`}
      onDragEnter={(e) => {
        if (!carriesFiles(e)) return;
        e.preventDefault();
        depth.current++;
        over.value = true;
      }}
      onDragOver={(e) => {
        if (!carriesFiles(e)) return;
        e.preventDefault();
        e.dataTransfer!.dropEffect = "copy";
      }}
      onDragLeave={(e) => {
        if (carriesFiles(e) && --depth.current <= 0) leave();
      }}
      onDrop={(e) => {
        if (!carriesFiles(e)) return;
        e.preventDefault();
        leave();
        const files = [...(e.dataTransfer?.files ?? [])];
        if (files.length) store.uploads.attach(room.id, files);
      }}
    >
      {children}
      {over.value
        ? (
          <div class="drop-overlay" aria-hidden="true">
            <p>
              Drop files to send to {room.kind === "direct" ? room.name : `#${room.name}`}
            </p>
          </div>
        )
        : null}
    </div>
  );
}

/** Messages with the same author within five minutes share one header. */
const GROUP_MS = 5 * 60_000;
/** How long a message a jump brought into view stays highlighted. */
const FLASH_MS = 2_500;

function MessageList({ room, conv }: { room: Room; conv: Conversation }) {
  const store = useStore();
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const shape = useRef({ roomId: "", first: 0, height: 0, count: 0, pending: 0 });
  const messages = conv.messages.value;
  const pending = conv.pending.value;
  const divider = conv.dividerSeq.value;
  const jump = store.essentials.jump.value;
  /** The message a jump brought into view, flashed for a moment. */
  const flash = useSignal<number | null>(null);
  const flashTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const me = store.me.value!;
  // Who each mention names, for highlighting: the members, and the user in any case.
  const names = new Map(store.members.value.map((u) => [u.id, u.username.toLowerCase()]));
  names.set(me.id, me.username.toLowerCase());

  // Keeps the view steady: stick to the bottom for new messages, keep the
  // reader's place when older ones are added above, and start at the divider.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const before = shape.current;
    const first = messages[0]?.seq ?? 0;
    const count = messages.length + pending.length;
    if (before.roomId !== room.id || (before.count === 0 && count > 0)) {
      const mark = el.querySelector(".divider");
      if (mark) mark.scrollIntoView({ block: "center" });
      else el.scrollTop = el.scrollHeight;
      atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    } else if (pending.length > before.pending) {
      // The user just sent something: show it, wherever they were reading.
      el.scrollTop = el.scrollHeight;
      atBottom.current = true;
    } else if (first < before.first && before.first) {
      el.scrollTop += el.scrollHeight - before.height;
    } else if (atBottom.current && (count !== before.count || el.scrollHeight !== before.height)) {
      // New messages, or a message grown (its files in place of their progress): stay down.
      el.scrollTop = el.scrollHeight;
    }
    shape.current = {
      roomId: room.id,
      first,
      height: el.scrollHeight,
      count,
      pending: pending.length,
    };
  });

  // A jump to a message (a quote clicked): bring it to the middle, focus it, flash it.
  useLayoutEffect(() => {
    if (!jump || jump.roomId !== room.id) return;
    store.essentials.jump.value = null;
    const row = scroller.current?.querySelector<HTMLElement>(`li.msg[data-seq="${jump.seq}"]`);
    if (!row) return;
    row.scrollIntoView({ block: "center" });
    row.tabIndex = -1;
    row.focus({ preventScroll: true });
    flash.value = jump.seq;
    clearTimeout(flashTimer.current);
    flashTimer.current = setTimeout(() => flash.value = null, FLASH_MS);
  }, [jump]);
  useEffect(() => () => clearTimeout(flashTimer.current), []);

  const onScroll = () => {
    const el = scroller.current!;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    shape.current.height = el.scrollHeight;
    if (el.scrollTop < 120) store.loadOlder(room.id).catch(() => {});
  };

  const rows: JSX.Element[] = [];
  let prev: Message | null = null;
  for (const m of messages) {
    if (!prev || formatDay(prev.createdAt) !== formatDay(m.createdAt)) {
      rows.push(
        <li class="day" key={`day-${m.seq}`}>
          <span>{formatDay(m.createdAt)}</span>
        </li>,
      );
      prev = null;
    }
    if (m.seq === divider && m.author.id !== store.me.value?.id) {
      rows.push(
        <li class="divider" key="divider" aria-label="New messages">
          <span>New</span>
        </li>,
      );
      prev = null;
    }
    if (m.notice) {
      rows.push(<NoticeLine key={m.seq} message={m} />);
      prev = null;
      continue;
    }
    // A reply starts a group of its own: its quote goes above its author.
    const continued = prev !== null && prev.author.id === m.author.id && !m.replyTo &&
      m.createdAt - prev.createdAt < GROUP_MS;
    rows.push(
      <MessageRow
        key={m.seq}
        message={m}
        continued={continued}
        flash={m.seq === flash.value}
        names={names}
      />,
    );
    prev = m;
  }
  for (const p of pending) rows.push(<PendingRow key={p.clientId} pending={p} />);

  return (
    <div class="scroller" ref={scroller} onScroll={onScroll} tabIndex={0} aria-label="Messages">
      {conv.loaded.value && !conv.hasMore.value
        ? (
          <div class="conv-start">
            <Avatar name={room.name} group={room.kind === "group"} />
            <p>
              {room.kind === "direct"
                ? `This is the beginning of your conversation with ${room.name}.`
                : `This is the start of ${room.name}.`}
            </p>
          </div>
        )
        : null}
      {conv.loadingOlder.value ? <p class="loading-older">Loading older messages…</p> : null}
      {!conv.loaded.value ? <p class="loading-older">Loading…</p> : null}
      <ol class="messages" aria-live="polite" aria-relevant="additions">{rows}</ol>
    </div>
  );
}

function MessageRow(
  { message: m, continued, flash, names }: {
    message: Message;
    continued: boolean;
    /** Whether a jump just brought it into view. */
    flash: boolean;
    /** Members' usernames (lower case) by id, for its mentions. */
    names: Map<string, string>;
  },
) {
  const store = useStore();
  const when = new Date(m.createdAt);
  const edit = store.editing.value;
  const editing = !m.deleted && edit?.roomId === m.roomId && edit.seq === m.seq;
  const meId = store.me.value?.id ?? "";
  const mentioned = new Set(m.mentions?.flatMap((id) => names.get(id) ?? []));
  const mentionsMe = !m.deleted && (m.mentions?.includes(meId) ?? false);
  // An encrypted message shows what it decrypts to here, or that it could not be.
  const opened = m.envelope && !m.deleted ? store.e2e.open(m) : null;
  const text = opened?.state === "done" ? opened.payload.text : m.text;
  const files = opened?.state === "done" ? opened.payload.files ?? [] : [];
  return (
    <li
      class={`msg${continued ? " msg-cont" : ""}${editing ? " msg-editing" : ""}` +
        (mentionsMe ? " msg-mention" : "") + (flash ? " msg-flash" : "")}
      data-seq={m.seq}
    >
      {continued
        ? <time class="msg-side-time" dateTime={when.toISOString()}>{formatTime(m.createdAt)}</time>
        : <Avatar name={m.author.username} />}
      <div class="msg-body">
        {m.replyTo && !m.deleted ? <Quote quote={m.replyTo} roomId={m.roomId} /> : null}
        {continued ? null : (
          <div class="msg-head">
            <span class="msg-author">{m.author.username}</span>
            <time class="msg-time" dateTime={when.toISOString()} title={when.toLocaleString()}>
              {formatTime(m.createdAt)}
            </time>
          </div>
        )}
        {m.deleted
          ? <p class="msg-text msg-deleted">message deleted</p>
          : opened?.state === "failed"
          ? <Undecryptable />
          : opened?.state === "pending"
          ? <p class="msg-text msg-decrypting">Decrypting…</p>
          : editing
          ? <MessageEditor message={m} text={text} />
          : !text && m.attachments?.length
          ? null
          : (
            <MessageText text={text} mentioned={mentioned} self={names.get(meId)}>
              {m.editedAt
                ? (
                  <span class="msg-edited" title={`Edited ${formatWhen(m.editedAt)}`}>
                    {" "}(edited)
                  </span>
                )
                : null}
            </MessageText>
          )}
        {m.deleted || opened || !m.attachments?.length
          ? null
          : <MessageAttachments list={m.attachments} />}
        {files.length ? <EncryptedFiles message={m} files={files} /> : null}
        {m.deleted ? null : <Reactions message={m} />}
      </div>
      {m.deleted || editing ? null : <MessageActions message={m} />}
    </li>
  );
}

/** Reply and React; Edit and Delete, for whoever may. */
function MessageActions({ message: m }: { message: Message }) {
  const store = useStore();
  const picking = useSignal(false);
  const wrap = useRef<HTMLDivElement>(null);
  const mine = m.author.id === store.me.value?.id;
  const items: MenuItem[] = [
    { label: "Reply", run: () => store.essentials.reply(m) },
    { label: "Add reaction", run: () => picking.value = true },
  ];
  if (store.moderation.mayEdit(m)) {
    items.push({
      label: "Edit",
      run: () => store.editing.value = { roomId: m.roomId, seq: m.seq },
    });
  }
  if (store.moderation.mayDelete(m)) {
    items.push({
      label: "Delete",
      danger: true,
      run: () => {
        const question = mine
          ? "Delete this message? Everyone will see “message deleted” in its place."
          : `Delete this message by ${m.author.username}? Everyone will see “message deleted” ` +
            "in its place.";
        if (!confirm(question)) return;
        store.moderation.remove(m).catch((e) =>
          store.notify("error", "Could not delete the message", [e.message])
        );
      },
    });
  }
  const whose = mine ? "your message" : `${m.author.username}’s message`;
  return (
    <div class={`msg-actions${picking.value ? " picking" : ""}`} ref={wrap}>
      <ActionMenu label={`Options for ${whose} at ${formatTime(m.createdAt)}`} items={items} />
      {picking.value
        ? (
          <ReactionPicker
            message={m}
            onClose={(refocus) => {
              picking.value = false;
              if (refocus) wrap.current?.querySelector<HTMLElement>("[aria-haspopup]")?.focus();
            }}
          />
        )
        : null}
    </div>
  );
}

/**
 * Edits a message in place (`before`: its text as shown, decrypted if need be):
 * Enter saves, Escape cancels; emptied, it offers to delete.
 */
function MessageEditor({ message: m, text: before }: { message: Message; text: string }) {
  const store = useStore();
  const text = useSignal(before);
  const error = useSignal("");
  const busy = useSignal(false);
  const input = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    const el = input.current;
    if (!el) return;
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
    el.scrollIntoView({ block: "nearest" });
  }, []);
  const stop = () => {
    store.editing.value = null;
  };
  const save = async () => {
    const next = text.value.trim();
    if (busy.value) return;
    if (next === before) return stop();
    busy.value = true;
    error.value = "";
    try {
      if (!next) {
        if (confirm("Delete this message?")) await store.moderation.remove(m);
        else return;
      } else await store.moderation.edit(m.roomId, m.seq, next);
      stop();
    } catch (e) {
      error.value = (e as Error).message;
    } finally {
      busy.value = false;
    }
  };
  const lines = Math.min(8, Math.max(1, text.value.split("\n").length));
  return (
    <form
      class="msg-editor"
      onSubmit={(e) => {
        e.preventDefault();
        save();
      }}
    >
      <textarea
        ref={input}
        class="msg-edit-input"
        aria-label="Edit message"
        aria-describedby={`edit-hint-${m.seq}`}
        rows={lines}
        maxLength={MESSAGE_MAX}
        value={text.value}
        onInput={(e) => text.value = e.currentTarget.value}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            save();
          } else if (e.key === "Escape") {
            e.preventDefault();
            stop();
          }
        }}
      />
      {error.value ? <p class="msg-error" role="alert">{error.value}</p> : null}
      <p class="msg-edit-hint">
        <span id={`edit-hint-${m.seq}`}>Enter to save · Escape to cancel</span>{" "}
        <button type="button" class="link-button" onClick={stop}>Cancel</button>{" "}
        <button type="submit" class="link-button" disabled={busy.value}>Save</button>
      </p>
    </form>
  );
}

/**
 * The text as text; only http(s) links become elements, and the mentions
 * of members (`mentioned`, lower case) are marked, more so the user's own (`self`).
 */
function MessageText(
  { text, mentioned, self, children }: {
    text: string;
    mentioned?: Set<string>;
    self?: string;
    children?: ComponentChildren;
  },
) {
  const marked = (plain: string) =>
    mentioned?.size
      ? splitMentions(plain).map((part, i) => {
        const name = part.name?.toLowerCase();
        if (!name || !mentioned.has(name)) return part.text;
        const kind = name === self ? "mention mention-me" : "mention";
        return <span key={i} class={kind}>{part.text}</span>;
      })
      : plain;
  return (
    <p class="msg-text">
      {splitLinks(text).map((part) =>
        part.href
          ? (
            <a href={part.href} target="_blank" rel="noopener noreferrer">
              {part.text}
            </a>
          )
          : marked(part.text)
      )}
      {children}
    </p>
  );
}

function PendingRow({ pending: p }: { pending: Pending }) {
  const store = useStore();
  const me = store.me.value!;
  return (
    <li class={`msg msg-pending${p.state === "failed" ? " msg-failed" : ""}`}>
      <Avatar name={me.username} />
      <div class="msg-body">
        {p.replyTo ? <Quote quote={p.replyTo} roomId={p.roomId} /> : null}
        <div class="msg-head">
          <span class="msg-author">{me.username}</span>
          <span class="msg-time">
            {p.state === "uploading"
              ? "Uploading…"
              : p.state === "sending"
              ? "Sending…"
              : "Not sent"}
          </span>
        </div>
        {p.text ? <MessageText text={p.text} /> : null}
        {p.uploads?.length
          ? (
            <UploadList
              uploads={p.uploads}
              label="Files of this message"
              onRemove={p.state === "sending" ? undefined : (u) => store.removeUpload(p, u)}
            />
          )
          : null}
        {p.state === "failed"
          ? (
            <p class="msg-error" role="alert">
              {p.error ?? "The server did not take this message."}{" "}
              <button type="button" class="link-button" onClick={() => store.retry(p)}>
                {p.encryptionOff ? "Send unencrypted" : "Retry"}
              </button>{" "}
              <button type="button" class="link-button" onClick={() => store.discard(p)}>
                Discard
              </button>
            </p>
          )
          : null}
      </div>
    </li>
  );
}

function TypingLine({ roomId }: { roomId: string }) {
  const names = Object.values(useStore().typing.value[roomId] ?? {}).map((t) => t.username);
  const text = names.length === 0
    ? ""
    : names.length === 1
    ? `${names[0]} is typing…`
    : names.length === 2
    ? `${names[0]} and ${names[1]} are typing…`
    : "Several people are typing…";
  return <div class="typing" aria-live="polite">{text}</div>;
}

/** Command output and errors, shown above the composer until dismissed. */
export function Notices() {
  const store = useStore();
  const list = store.notices.value;
  if (!list.length) return null;
  return (
    <div class="notices">
      {list.map((n) => (
        <div
          key={n.id}
          class={`notice notice-${n.tone}`}
          role={n.tone === "error" ? "alert" : "status"}
        >
          <div class="notice-text">
            <strong>{n.title}</strong>
            {n.lines.length ? <ul>{n.lines.map((l, i) => <li key={i}>{l}</li>)}</ul> : null}
          </div>
          <button
            type="button"
            class="icon-button small"
            aria-label="Dismiss"
            onClick={() => store.dismiss(n.id)}
          >
            <Icon name="close" />
          </button>
        </div>
      ))}
    </div>
  );
}

function Composer({ room }: { room: Room }) {
  const store = useStore();
  const text = useSignal("");
  const input = useRef<HTMLTextAreaElement>(null);
  const picker = useRef<HTMLInputElement>(null);
  const editing = store.editing.value !== null;
  const files = store.uploads.staged(room.id).value;
  const quote = store.essentials.replying.value[room.id];
  const quoted = quote ? quoteText(store, quote, room.id) : "";
  const mention = useMentionInput(text, input, store.members.value, store.me.value!.id);
  // The files a message would carry now: not the refused ones.
  const ready = files.filter((u) => u.state.value !== "failed").length;
  // Back to the composer when the conversation opens, when an edit ends and to write a reply.
  useEffect(() => {
    if (!editing) input.current?.focus();
  }, [room.id, editing, quote?.seq]);
  const attach = (list: Iterable<File>) => {
    store.uploads.attach(room.id, list);
    input.current?.focus();
  };
  const submit = () => {
    const line = text.value;
    const isMessage = parseCommand(line).kind === "message";
    // A slash command runs on its own; the files and the quote wait for the next message.
    if (!line.trim() && !(ready && isMessage)) return;
    text.value = "";
    if (!isMessage) return void store.submit(line);
    store.submit(line, ready ? store.uploads.take(room.id) : [], quote);
    store.essentials.cancelReply(room.id);
    // Someone who writes may want to hear back: the moment to ask, once.
    store.notifications.askOnce();
  };
  const lines = Math.min(6, text.value.split("\n").length);
  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      {mention.list}
      {quote
        ? (
          <div class="reply-bar">
            <Icon name="reply" />
            <span class="reply-bar-text" id="reply-bar-text">
              Replying to <strong>{quote.author.username}</strong>
              <span class={`quote-text${quote.deleted ? " msg-deleted" : ""}`}>{quoted}</span>
            </span>
            <button
              type="button"
              class="icon-button small"
              aria-label="Cancel reply"
              title="Cancel reply (Escape)"
              onClick={() => {
                store.essentials.cancelReply(room.id);
                input.current?.focus();
              }}
            >
              <Icon name="close" />
            </button>
          </div>
        )
        : null}
      <UploadList
        uploads={files}
        label="Files to send"
        onRemove={(u) => store.uploads.remove(u)}
        onRetry={(u) => u.retry()}
      />
      <input
        ref={picker}
        type="file"
        multiple
        hidden
        aria-label="Files to attach"
        onChange={(e) => {
          const chosen = [...(e.currentTarget.files ?? [])];
          // Cleared, so choosing the same file again is a change too.
          e.currentTarget.value = "";
          if (chosen.length) attach(chosen);
        }}
      />
      <button
        type="button"
        class="icon-button attach"
        aria-label="Attach files"
        title="Attach files (or drop or paste them here)"
        onClick={() => picker.current?.click()}
      >
        <Icon name="clip" />
      </button>
      <textarea
        ref={input}
        class="composer-input"
        aria-label="Message"
        placeholder={room.kind !== "direct"
          ? `Message #${room.name}`
          : room.encrypted
          ? `Encrypted message to ${room.name}`
          : `Message ${room.name}`}
        rows={lines}
        maxLength={MESSAGE_MAX}
        value={text.value}
        aria-describedby={quote ? "reply-bar-text" : undefined}
        {...mention.aria}
        onInput={(e) => {
          text.value = e.currentTarget.value;
          mention.track();
          if (text.value && !text.value.startsWith("/")) store.typed(room.id);
        }}
        // The caret moved (arrows, Home, End, a click): the @ it is in, if any, may have changed.
        onKeyUp={mention.track}
        onClick={mention.track}
        onBlur={mention.close}
        onPaste={(e) => {
          // A pasted image (or file) is attached; pasted text is just text.
          const pasted = [...(e.clipboardData?.files ?? [])];
          if (!pasted.length) return;
          e.preventDefault();
          attach(pasted);
        }}
        onKeyDown={(e) => {
          if (mention.onKeyDown(e)) return;
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            submit();
          } else if (e.key === "Escape" && quote) {
            e.preventDefault();
            store.essentials.cancelReply(room.id);
          } else if (e.key === "ArrowUp" && !text.value && !e.isComposing) {
            // Up in an empty composer edits your last message, as in the chat apps people know.
            const last = store.moderation.lastOwn(room.id);
            if (!last) return;
            e.preventDefault();
            store.editing.value = { roomId: room.id, seq: last.seq };
          }
        }}
      />
      <button
        type="submit"
        class="send"
        aria-label="Send"
        disabled={!text.value.trim() && !ready}
      >
        <Icon name="send" />
      </button>
    </form>
  );
}

function MembersPanel({ room }: { room: Room }) {
  const store = useStore();
  const me = store.me.value!;
  const name = useSignal("");
  const error = useSignal("");
  const invited = useSignal("");
  const members = store.members.value;
  const isOwner = room.kind === "group" && room.ownerId === me.id;
  return (
    <aside class="members-panel" aria-label="Members">
      <header class="members-head">
        <h2>Members · {members.length}</h2>
        <button
          type="button"
          class="icon-button small"
          aria-label="Close members"
          onClick={() => store.showMembers.value = false}
        >
          <Icon name="close" />
        </button>
      </header>
      <ul class="member-list">
        {members.map((m) => (
          <li key={m.id} class="member">
            <Avatar name={m.username} size="sm" />
            <span class="member-text">
              <span class="member-name">
                {m.username}
                {m.id === me.id ? <span class="muted you">(you)</span> : null}
              </span>
              {m.role !== "member" || store.account.isBlocked(m.id)
                ? (
                  <span class="member-tags">
                    {m.role === "member" ? null : <span class={`tag tag-${m.role}`}>{m.role}</span>}
                    {store.account.isBlocked(m.id) ? <span class="tag">blocked</span> : null}
                  </span>
                )
                : null}
            </span>
            <PresenceDot online={m.id === me.id || m.online} />
            {m.id === me.id ? null : <MemberMenu room={room} member={m} />}
          </li>
        ))}
      </ul>
      {isOwner
        ? (
          <form
            class="invite"
            onSubmit={(e) => {
              e.preventDefault();
              const username = name.value.trim();
              if (!username) return;
              error.value = "";
              invited.value = "";
              store.invite(room.id, username).then(
                () => {
                  name.value = "";
                  invited.value = `Invited ${username}. They join when they accept.`;
                },
                (err) => error.value = err.message,
              );
            }}
          >
            <label for="invite-name">Invite someone</label>
            <div class="row">
              <input
                id="invite-name"
                value={name.value}
                onInput={(e) => {
                  name.value = e.currentTarget.value;
                  error.value = "";
                }}
                placeholder="username"
                autoComplete="off"
              />
              <button type="submit" class="button small">Invite</button>
            </div>
            {error.value ? <p class="error" role="alert">{error.value}</p> : null}
            <p class="success" role="status">{invited.value}</p>
          </form>
        )
        : null}
      <ModerationTools room={room} />
    </aside>
  );
}

/**
 * A member's menu: message them, block or unblock them; for those allowed,
 * give or take the moderator role, hand the room over, kick, ban.
 */
function MemberMenu({ room, member }: { room: Room; member: Member }) {
  const store = useStore();
  const mod = store.moderation;
  const blocked = store.account.isBlocked(member.id);
  const name = member.username;
  const run = (action: () => Promise<unknown>, failed: string, done?: string) =>
    action().then(
      () => done && store.notify("info", done, []),
      (e) => store.notify("error", failed, [e.message]),
    );
  const items: MenuItem[] = [
    {
      label: "Message",
      run: () => run(() => store.openDirect(name), "Could not open the conversation"),
    },
    {
      label: blocked ? "Unblock" : "Block",
      run: () =>
        run(
          () => blocked ? store.account.unblock(member) : store.account.block(name),
          blocked ? "Could not unblock" : "Could not block",
          `${blocked ? "Unblocked" : "Blocked"} ${name}`,
        ),
    },
  ];
  if (mod.givesRoles() && member.role !== "owner") {
    const promote = member.role === "member";
    items.push({
      label: promote ? "Make moderator" : "Remove moderator",
      run: () =>
        run(
          () => mod.setRole(room.id, member.id, promote ? "moderator" : "member"),
          "Could not change the role",
          `${name} is now a ${promote ? "moderator" : "member"} of #${room.name}`,
        ),
    });
    items.push({
      label: "Make owner",
      run: () => {
        if (!confirm(`Hand #${room.name} over to ${name}? You become a moderator.`)) return;
        run(
          () => mod.setRole(room.id, member.id, "owner"),
          "Could not hand the room over",
          `${name} now owns #${room.name}`,
        );
      },
    });
  }
  if (mod.outranks(member)) {
    items.push({
      label: "Kick",
      danger: true,
      run: () => {
        if (!confirm(`Remove ${name} from #${room.name}? They may rejoin a public room.`)) return;
        run(
          () => mod.kick(room.id, member.id),
          `Could not remove ${name}`,
          `Removed ${name} from #${room.name}`,
        );
      },
    });
    items.push({
      label: "Ban…",
      danger: true,
      run: () => store.dialog.value = { kind: "ban", roomId: room.id, username: name },
    });
  }
  return <ActionMenu label={`Actions for ${name}`} items={items} />;
}

/** For the room's owner and moderators: its bans, its audit log; deleting it. */
function ModerationTools({ room }: { room: Room }) {
  const store = useStore();
  const mod = store.moderation;
  if (!mod.moderates()) return null;
  return (
    <section class="mod-tools" aria-labelledby="mod-tools-title">
      <h3 id="mod-tools-title">Moderation</h3>
      <div class="mod-buttons">
        <button type="button" class="button small" onClick={() => store.dialog.value = "bans"}>
          Bans
        </button>
        <button type="button" class="button small" onClick={() => store.dialog.value = "audit"}>
          Audit log
        </button>
        {mod.givesRoles()
          ? (
            <button
              type="button"
              class="button small danger"
              onClick={() => {
                const question = `Delete #${room.name} and all its messages for everyone? ` +
                  "This cannot be undone.";
                if (!confirm(question)) return;
                store.deleteRoom(room.id).catch((e) =>
                  store.notify("error", "Could not delete the room", [e.message])
                );
              }}
            >
              Delete room
            </button>
          )
          : null}
      </div>
    </section>
  );
}
