/**
 * Small pieces the islands share: the store's context, avatars, presence
 * dots, icons, and time formatting.
 *
 * @module
 */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Store } from "./store.ts";

/** The store, for every component under the app. */
export const StoreContext = createContext<Store | null>(null);

/** The app's store; only inside `<StoreContext.Provider>`. */
export function useStore(): Store {
  const store = useContext(StoreContext);
  if (!store) throw new Error("useStore() outside the app");
  return store;
}

/** A stable colour class for a name, so each person keeps their colour. */
export function colourOf(name: string): string {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `tint-${h % 8}`;
}

/** A round avatar with an initial, or `#` for a group room, and an optional presence dot. */
export function Avatar(
  { name, group = false, online, size = "md" }: {
    name: string;
    group?: boolean;
    online?: boolean;
    size?: "sm" | "md";
  },
) {
  return (
    <span
      class={`avatar avatar-${size} ${group ? "avatar-group" : colourOf(name)}`}
      aria-hidden="true"
    >
      {group ? "#" : name.slice(0, 1).toUpperCase()}
      {online === undefined ? null : <span class={`dot ${online ? "dot-on" : "dot-off"}`} />}
    </span>
  );
}

/** A presence dot with a text alternative. */
export function PresenceDot({ online }: { online: boolean }) {
  return (
    <span
      class={`dot dot-inline ${online ? "dot-on" : "dot-off"}`}
      role="img"
      aria-label={online ? "online" : "offline"}
    />
  );
}

/** Icons drawn inline, so nothing is fetched and the policy stays strict. */
export function Icon(
  { name }: {
    name: "plus" | "back" | "people" | "send" | "search" | "close" | "compass" | "chat" | "more";
  },
) {
  const paths: Record<string, string> = {
    plus: "M12 5v14M5 12h14",
    back: "M15 18l-6-6 6-6",
    people:
      "M16 20v-1a4 4 0 0 0-4-4H7a4 4 0 0 0-4 4v1M9.5 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7M21 20v-1a4 4 0 0 0-3-3.9M16 4.1a3.5 3.5 0 0 1 0 6.8",
    send: "M4 12l16-8-6 16-2.5-6.5L4 12z",
    search: "M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14zM21 21l-4.5-4.5",
    close: "M6 6l12 12M18 6L6 18",
    compass: "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM15.5 8.5l-2 5-5 2 2-5 5-2z",
    chat: "M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z",
    more: "M5 12h.01M12 12h.01M19 12h.01",
  };
  return (
    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <path d={paths[name]} />
    </svg>
  );
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "long",
  month: "long",
  day: "numeric",
});

/** "14:05", in the reader's time zone. */
export function formatTime(ms: number): string {
  return timeFormat.format(ms);
}

const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "numeric",
  minute: "2-digit",
});

/** "today 14:05", or a date and time further back. */
export function formatWhen(ms: number, now = Date.now()): string {
  return new Date(ms).toDateString() === new Date(now).toDateString()
    ? `today ${formatTime(ms)}`
    : dateTimeFormat.format(ms);
}

/** "Chrome on Linux" from a User-Agent, or the start of it when it is not a browser's. */
export function deviceName(userAgent: string): string {
  const cli = userAgent.match(/^parley-cli \(.*; (\w+)\)/);
  if (cli) return `Terminal client on ${cli[1]}`;
  const browser = [
    ["Edg/", "Edge"],
    ["OPR/", "Opera"],
    ["Firefox/", "Firefox"],
    ["Chrome/", "Chrome"],
    ["Safari/", "Safari"],
  ].find(([token]) => userAgent.includes(token))?.[1];
  const system = [
    ["Android", "Android"],
    ["iPhone", "iPhone"],
    ["iPad", "iPad"],
    ["Windows", "Windows"],
    ["Mac OS X", "macOS"],
    ["CrOS", "ChromeOS"],
    ["Linux", "Linux"],
  ].find(([token]) => userAgent.includes(token))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  return browser ?? (userAgent.slice(0, 40) || "Unknown device");
}

/** "Today", "Yesterday" or a date. */
export function formatDay(ms: number, now = Date.now()): string {
  const day = (t: number) => new Date(t).toDateString();
  if (day(ms) === day(now)) return "Today";
  if (day(ms) === day(now - 86_400_000)) return "Yesterday";
  return dayFormat.format(ms);
}
