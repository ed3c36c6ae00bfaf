/**
 * Browser notifications: a new direct message, or a mention of the user,
 * while the tab is hidden. Never their own messages, nor a blocked user's,
 * nor anything in a room they muted. One per conversation (its `tag`), so a
 * new one replaces the last; a click brings the tab forward and opens the
 * conversation. Permission is asked once, after the user's first message,
 * or when they ask for it in their account dialog; never on page load.
 *
 * @module
 */
import { signal } from "@preact/signals";
import type { StoreCore } from "./store_core.ts";
import type { Message } from "./types.ts";

/** Set once the browser has asked, so it never asks on its own again. */
const ASKED_KEY = "parley:notifications-asked";
/** How long one tab holds a message's lock, so the user's other tabs do not show it again. */
const CLAIM_MS = 60_000;
const BODY_MAX = 160;

/** The browser's answer, or `unsupported` where there are no notifications. */
export type NotificationState = NotificationPermission | "unsupported";

function supported(): boolean {
  return typeof Notification !== "undefined";
}

/** What a notification says of a message: who, where, and the start of what. */
export function notificationText(
  m: Message,
  room: { kind: "group" | "direct"; name: string },
): { title: string; body: string } {
  const title = room.kind === "direct"
    ? m.author.username
    : `${m.author.username} in #${room.name}`;
  // An encrypted message is not put in the system's hands, which may log it.
  if (m.envelope) return { title, body: "New encrypted message" };
  const files = m.attachments?.length ?? 0;
  const text = m.text ||
    (files === 1 ? `Sent ${m.attachments![0].name}` : files ? `Sent ${files} files` : "");
  return { title, body: text.length > BODY_MAX ? text.slice(0, BODY_MAX - 1) + "…" : text };
}

/** Builds the notifier; `open` opens a conversation. */
export function createNotifications(core: StoreCore, open: (roomId: string) => void) {
  const { me, state } = core;
  const permission = signal<NotificationState>(
    supported() ? Notification.permission : "unsupported",
  );
  /** The notification showing for each conversation. */
  const shown = new Map<string, Notification>();

  /** Asks the browser for permission (from a click or a key press: browsers want a gesture). */
  async function enable(): Promise<NotificationState> {
    if (!supported()) return "unsupported";
    remember();
    permission.value = await Notification.requestPermission();
    return permission.value;
  }

  /** After the user sends a message: asks, the first time ever in this browser. */
  function askOnce() {
    refresh();
    if (permission.value !== "default" || asked()) return;
    enable().catch(() => {});
  }

  /** Re-reads the permission: the user may have changed it in the browser's settings. */
  function refresh() {
    if (supported()) permission.value = Notification.permission;
  }

  /** Whether `m`, just received, calls for a notification. */
  function wanted(m: Message): boolean {
    const user = me.value;
    const room = state.value.rooms[m.roomId];
    if (!user || !room || m.deleted || m.notice) return false;
    if (document.visibilityState !== "hidden" || permission.value !== "granted") return false;
    if (m.author.id === user.id || m.author.id in state.value.blocked || room.muted) return false;
    return room.kind === "direct" || (m.mentions?.includes(user.id) ?? false);
  }

  /** Shows a notification for a message just received, when it calls for one. */
  function consider(m: Message) {
    refresh();
    if (!wanted(m)) return;
    // Every tab of the user hears the message: the first to claim it shows it.
    if (!navigator.locks) return show(m);
    navigator.locks.request(
      `parley-notified:${m.id}`,
      { ifAvailable: true },
      (lock) => {
        if (!lock) return;
        show(m);
        return new Promise((done) => setTimeout(done, CLAIM_MS));
      },
    ).catch(() => {});
  }

  function show(m: Message) {
    const room = state.value.rooms[m.roomId];
    if (!room) return;
    const { title, body } = notificationText(m, room);
    let n: Notification;
    try {
      // `renotify`: a replacement alerts again. (Not in TypeScript's DOM types.)
      n = new Notification(title, { body, tag: m.roomId, renotify: true } as NotificationOptions);
    } catch {
      return; // Android Chrome wants a service worker for these: no notification then.
    }
    shown.set(m.roomId, n);
    n.onclick = () => {
      globalThis.focus();
      open(m.roomId);
      n.close();
    };
    n.onclose = () => shown.get(m.roomId) === n && shown.delete(m.roomId);
  }

  /** Closes the notification of a conversation the user is now looking at. */
  function seen(roomId: string) {
    shown.get(roomId)?.close();
    shown.delete(roomId);
  }

  return { permission, enable, askOnce, refresh, consider, seen };
}

function asked(): boolean {
  try {
    return localStorage.getItem(ASKED_KEY) !== null;
  } catch {
    return true; // No storage: better never to ask on our own than to ask every time.
  }
}

function remember() {
  try {
    localStorage.setItem(ASKED_KEY, String(Date.now()));
  } catch {
    // Nothing to remember it in.
  }
}

/** The notifier. */
export type Notifications = ReturnType<typeof createNotifications>;
