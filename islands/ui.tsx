/**
 * Small pieces the islands share: the store's context, avatars, presence
 * dots, icons, the modal, the action menu, and time formatting.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { type ComponentChildren, createContext } from "preact";
import { useContext, useLayoutEffect, useRef } from "preact/hooks";
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
    name:
      | "plus"
      | "back"
      | "people"
      | "send"
      | "search"
      | "close"
      | "compass"
      | "chat"
      | "more"
      | "clip"
      | "file"
      | "download"
      | "reply"
      | "muted"
      | "lock"
      | "warning"
      | "check";
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
    clip:
      "M21.4 11.1l-9.2 9.2a6 6 0 0 1-8.5-8.5l9.2-9.2a4 4 0 0 1 5.7 5.7l-9.2 9.2a2 2 0 0 1-2.8-2.8l8.5-8.5",
    file: "M13 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V9zM13 2v7h7",
    download: "M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4M7 10l5 5 5-5M12 15V3",
    reply: "M9 17l-5-5 5-5M4 12h11a5 5 0 0 1 5 5v2",
    muted:
      "M13.7 21a2 2 0 0 1-3.4 0M18.6 13A18 18 0 0 1 18 8M6.3 6.3A6 6 0 0 0 6 8c0 7-3 9-3 9h14M18 8a6 6 0 0 0-9.3-5M2 2l20 20",
    lock: "M6 11h12v10H6zM8 11V7a4 4 0 0 1 8 0v4",
    warning: "M12 3l10 18H2L12 3zM12 10v5M12 18h.01",
    check: "M5 12l5 5 9-10",
  };
  return (
    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <path d={paths[name]} />
    </svg>
  );
}

/**
 * A modal: Escape or the backdrop closes it, focus starts inside and returns
 * after. Focus goes to `focus` (a selector; `"dialog"` is the dialog itself),
 * else the first field, else the main action.
 */
export function Modal(
  { title, focus, wide = false, children }: {
    title: string;
    focus?: string;
    wide?: boolean;
    children: ComponentChildren;
  },
) {
  const store = useStore();
  const box = useRef<HTMLDivElement>(null);
  const close = () => store.dialog.value = null;
  // Before paint, so the keys typed right after opening land in the first field.
  useLayoutEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    // The first field, else the main action: not the close button that comes first in the DOM.
    const first = focus === "dialog" ? box.current : (focus ? [focus] : [])
      .concat(["input", "button.primary", "button"])
      .map((selector) => box.current?.querySelector<HTMLElement>(selector))
      .find((el) => el);
    first?.focus();
    // Escape closes the dialog wherever focus is.
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && close();
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  return (
    <div
      class="overlay"
      onMouseDown={(e) => e.target === e.currentTarget && close()}
    >
      <div
        class={`modal${wide ? " modal-wide" : ""}`}
        role="dialog"
        aria-modal="true"
        aria-labelledby="modal-title"
        tabIndex={-1}
        ref={box}
      >
        <header class="modal-head">
          <h2 id="modal-title">{title}</h2>
          <button type="button" class="icon-button small" aria-label="Close" onClick={close}>
            <Icon name="close" />
          </button>
        </header>
        {children}
      </div>
    </div>
  );
}

/** One choice of an {@linkcode ActionMenu}. */
export interface MenuItem {
  label: string;
  /** Runs after the menu has closed (and given focus back to its button). */
  run: () => void;
  danger?: boolean;
}

/**
 * A "more" button that opens a menu: arrow keys, Home and End move, Escape
 * closes it and gives focus back to the button, Tab leaves it.
 */
export function ActionMenu({ label, items }: { label: string; items: MenuItem[] }) {
  const open = useSignal(false);
  const wrap = useRef<HTMLSpanElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const close = (refocus: boolean) => {
    open.value = false;
    if (refocus) button.current?.focus();
  };
  // Before paint, so the keys pressed right after opening (End, the arrows) reach the menu.
  useLayoutEffect(() => {
    if (!open.value) return;
    wrap.current?.querySelector<HTMLElement>("[role=menuitem]")?.focus();
    const outside = (e: Event) => {
      if (!wrap.current?.contains(e.target as Node)) close(false);
    };
    document.addEventListener("mousedown", outside);
    return () => document.removeEventListener("mousedown", outside);
  }, [open.value]);
  const onKeyDown = (e: KeyboardEvent) => menuKeys(e, wrap.current!, "[role=menuitem]", close);
  return (
    <span class="menu-wrap" ref={wrap}>
      <button
        type="button"
        ref={button}
        class="icon-button small"
        aria-label={label}
        aria-haspopup="menu"
        aria-expanded={open.value}
        onClick={() => open.value ? close(true) : open.value = true}
      >
        <Icon name="more" />
      </button>
      {open.value
        ? (
          <div class="menu" role="menu" aria-label={label} onKeyDown={onKeyDown}>
            {items.map((item) => (
              <button
                key={item.label}
                type="button"
                role="menuitem"
                tabIndex={-1}
                class={item.danger ? "danger" : undefined}
                onClick={() => {
                  close(true);
                  item.run();
                }}
              >
                {item.label}
              </button>
            ))}
          </div>
        )
        : null}
    </span>
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

/**
 * A menu's keys: the arrows move between its items (left and right too when
 * `sideways`, for a grid), Home and End jump, Escape closes it and gives focus
 * back, Tab closes it and lets focus move on.
 */
export function menuKeys(
  e: KeyboardEvent,
  menu: HTMLElement,
  items: string,
  close: (refocus: boolean) => void,
  sideways = false,
): void {
  const list = [...menu.querySelectorAll<HTMLElement>(items)];
  const at = list.indexOf(document.activeElement as HTMLElement);
  const move = (to: number) => {
    e.preventDefault();
    list[(to + list.length) % list.length]?.focus();
  };
  if (e.key === "Escape") {
    // The menu, not a dialog around it.
    e.preventDefault();
    e.stopPropagation();
    close(true);
  } else if (e.key === "ArrowDown" || (sideways && e.key === "ArrowRight")) move(at + 1);
  else if (e.key === "ArrowUp" || (sideways && e.key === "ArrowLeft")) move(at - 1);
  else if (e.key === "Home") move(0);
  else if (e.key === "End") move(list.length - 1);
  else if (e.key === "Tab") close(false);
}
