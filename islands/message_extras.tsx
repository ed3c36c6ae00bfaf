/**
 * What a message carries besides its text: the quote of the message it
 * answers, its reaction chips, and the picker that adds a reaction.
 *
 * @module
 */
import { useLayoutEffect, useRef } from "preact/hooks";
import { reactionOrder, REACTIONS } from "./essentials.ts";
import { quoteText } from "./encryption_ui.tsx";
import type { Message, ReplyQuote } from "./types.ts";
import { Icon, menuKeys, useStore } from "./ui.tsx";

/** The quote of the message a reply answers; a click brings the original into view. */
export function Quote({ quote, roomId }: { quote: ReplyQuote; roomId: string }) {
  const store = useStore();
  const text = quoteText(store, quote, roomId);
  return (
    <button
      type="button"
      class="quote"
      title="Show the original message"
      onClick={() =>
        store.essentials.jumpTo(roomId, quote.seq).catch((e) =>
          store.notify("error", "Could not load the original message", [e.message])
        )}
    >
      <Icon name="reply" />
      <span class="sr-only">In reply to</span>
      <span class="quote-author">{quote.author.username}</span>
      <span class={`quote-text${quote.deleted ? " msg-deleted" : ""}`}>{text}</span>
    </button>
  );
}

/** Runs a reaction change, saying so when it fails. */
function useToggle() {
  const store = useStore();
  return (m: Message, emoji: string) =>
    store.essentials.toggleReaction(m, emoji).catch((e) =>
      store.notify("error", "Could not change the reaction", [e.message])
    );
}

/** The reaction chips under a message: emoji and count, pressed when the user's; a click toggles. */
export function Reactions({ message: m }: { message: Message }) {
  const toggle = useToggle();
  if (!m.reactions?.length) return null;
  return (
    <div class="reactions" role="group" aria-label="Reactions">
      {reactionOrder(m.reactions).map((r) => (
        <button
          key={r.emoji}
          type="button"
          class={`reaction${r.me ? " mine" : ""}`}
          aria-pressed={r.me ?? false}
          title={r.me ? `Take back your ${r.emoji}` : `React with ${r.emoji}`}
          onClick={() => toggle(m, r.emoji)}
        >
          <span class="reaction-emoji">{r.emoji}</span>
          <span class="reaction-count">{r.count}</span>
        </button>
      ))}
    </div>
  );
}

/**
 * The common reactions, as a menu of checkboxes (checked: the user's):
 * arrow keys, Home and End move, Enter or Space picks, Escape closes and
 * gives focus back, Tab leaves.
 */
export function ReactionPicker(
  { message: m, onClose }: { message: Message; onClose: (refocus: boolean) => void },
) {
  const toggle = useToggle();
  const box = useRef<HTMLDivElement>(null);
  // Before paint, so the keys pressed right after opening reach the picker.
  useLayoutEffect(() => {
    box.current?.querySelector<HTMLElement>("[role=menuitemcheckbox]")?.focus();
    const outside = (e: Event) => {
      if (!box.current?.contains(e.target as Node)) onClose(false);
    };
    document.addEventListener("mousedown", outside);
    return () => document.removeEventListener("mousedown", outside);
  }, []);
  const onKeyDown = (e: KeyboardEvent) =>
    menuKeys(e, box.current!, "[role=menuitemcheckbox]", onClose, true);
  return (
    <div
      class="picker"
      role="menu"
      aria-label="Add a reaction"
      aria-orientation="horizontal"
      ref={box}
      onKeyDown={onKeyDown}
    >
      {REACTIONS.map(([emoji, name]) => {
        const mine = m.reactions?.some((r) => r.emoji === emoji && r.me) ?? false;
        return (
          <button
            key={emoji}
            type="button"
            role="menuitemcheckbox"
            aria-checked={mine}
            aria-label={name}
            title={mine ? `Take back your ${emoji}` : name}
            tabIndex={-1}
            class={mine ? "mine" : undefined}
            onClick={() => {
              onClose(true);
              toggle(m, emoji);
            }}
          >
            {emoji}
          </button>
        );
      })}
    </div>
  );
}
