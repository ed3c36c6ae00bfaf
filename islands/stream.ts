/**
 * One live event stream shared by all of a user's tabs.
 *
 * Browsers open at most six HTTP/1.1 connections per origin, so a seventh
 * tab with its own EventSource would hang. Instead the tabs elect a leader
 * with the Web Locks API: the leader holds the lock, opens the one
 * EventSource and relays every event over a BroadcastChannel. When the
 * leader's tab closes, the lock passes to a waiting tab, which opens the
 * stream again from the last event id it was relayed, so nothing is lost.
 * Without Web Locks (an insecure origin) each tab opens its own stream.
 *
 * @module
 */
import { EVENT_NAMES } from "../shared/event_names.ts";

/** Whether events are flowing. */
export type StreamStatus = "connecting" | "live" | "reconnecting";

/** One event of `/api/events`. */
export interface StreamEvent {
  type: string;
  id: string;
  data: unknown;
}

/** What travels over the BroadcastChannel between tabs. */
type Relay =
  | { kind: "event"; event: StreamEvent }
  | { kind: "status"; status: StreamStatus }
  | { kind: "hello" }
  | { kind: "logout" };

/** Callbacks of {@linkcode connectSharedStream}. */
export interface StreamHandlers {
  onEvent(event: StreamEvent): void;
  onStatus(status: StreamStatus): void;
  /** Another tab signed out. */
  onLogout(): void;
}

/** A connected shared stream. */
export interface SharedStream {
  /** Tells the other tabs this user signed out. */
  announceLogout(): void;
  /** Stops listening; a leader gives up its lock and closes the stream. */
  close(): void;
}

/** How long to wait before reopening a stream the browser gave up on. */
const REOPEN_MS = 2_000;

/**
 * Joins the user's shared stream: as the leader, or as a follower of it.
 *
 * @example
 * ```ts
 * const stream = connectSharedStream(user.id, { onEvent, onStatus, onLogout });
 * ```
 */
export function connectSharedStream(userId: string, handlers: StreamHandlers): SharedStream {
  const channel = "BroadcastChannel" in globalThis
    ? new BroadcastChannel(`parley:${userId}`)
    : null;
  let lastId: string | null = null;
  let status: StreamStatus = "connecting";
  let leader: { stop(): void } | null = null;
  let closed = false;

  const setStatus = (next: StreamStatus, relay: boolean) => {
    status = next;
    handlers.onStatus(next);
    if (relay) channel?.postMessage({ kind: "status", status: next } satisfies Relay);
  };
  const deliver = (event: StreamEvent) => {
    lastId = event.id;
    handlers.onEvent(event);
  };

  if (channel) {
    channel.onmessage = ({ data }: MessageEvent<Relay>) => {
      if (data.kind === "event") deliver(data.event);
      else if (data.kind === "status" && !leader) setStatus(data.status, false);
      else if (data.kind === "hello" && leader) setStatus(status, true);
      else if (data.kind === "logout") handlers.onLogout();
    };
  }

  const lead = () => {
    leader = openLeaderStream(
      () => lastId,
      (event) => {
        channel?.postMessage({ kind: "event", event } satisfies Relay);
        deliver(event);
      },
      (s) => setStatus(s, true),
      () => {
        // The session ended (expired, or signed out elsewhere): every tab goes to sign-in.
        channel?.postMessage({ kind: "logout" } satisfies Relay);
        handlers.onLogout();
      },
    );
  };

  let releaseLock: (() => void) | null = null;
  if (channel && navigator.locks) {
    navigator.locks.request(`parley-stream:${userId}`, () => {
      if (closed) return;
      lead();
      return new Promise<void>((release) => releaseLock = release);
    }).catch(() => {});
    channel.postMessage({ kind: "hello" } satisfies Relay);
  } else {
    lead();
  }

  return {
    announceLogout: () => channel?.postMessage({ kind: "logout" } satisfies Relay),
    close() {
      closed = true;
      leader?.stop();
      releaseLock?.();
      channel?.close();
    },
  };
}

/**
 * Opens the EventSource, reopening it with `?lastEventId=` if the browser
 * gives up (it does on any answer but 200), unless the session is gone.
 */
function openLeaderStream(
  lastId: () => string | null,
  onEvent: (e: StreamEvent) => void,
  onStatus: (s: StreamStatus) => void,
  onSignedOut: () => void,
): { stop(): void } {
  let source: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  const open = () => {
    const id = lastId();
    source = new EventSource("/api/events" + (id ? `?lastEventId=${encodeURIComponent(id)}` : ""));
    for (const type of EVENT_NAMES) {
      source.addEventListener(type, (e) => {
        const m = e as MessageEvent<string>;
        onEvent({ type, id: m.lastEventId, data: JSON.parse(m.data) });
      });
    }
    source.onopen = () => onStatus("live");
    source.onerror = () => {
      onStatus("reconnecting");
      // A CONNECTING source retries by itself, sending Last-Event-ID; a CLOSED one gave up.
      if (source?.readyState === EventSource.CLOSED && !stopped) reopen();
    };
  };
  const reopen = async () => {
    const me = await fetch("/api/me").catch(() => null);
    if (stopped) return;
    if (me?.status === 401) return onSignedOut();
    await me?.body?.cancel();
    timer = setTimeout(open, REOPEN_MS + Math.random() * 1000);
  };
  open();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      source?.close();
    },
  };
}
