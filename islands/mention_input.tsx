/**
 * Mention autocomplete for the composer: typing `@` offers the room's
 * members, filtered as the name is typed. Up and Down choose, Enter or Tab
 * picks, Escape closes. The textarea keeps its textbox role and points at
 * the list (`aria-controls`, `aria-activedescendant`); the list is an ARIA
 * listbox, and a status line says how many match.
 *
 * @module
 */
import { type Signal, useSignal } from "@preact/signals";
import type { RefObject } from "preact";
import { mentionChoices } from "./essentials.ts";
import type { Member } from "./types.ts";
import { Avatar } from "./ui.tsx";

/** An `@` being typed at the caret: where it starts and what follows it. */
interface Token {
  start: number;
  query: string;
}

const TOKEN = /(?:^|[^\w@])@([A-Za-z0-9_-]{0,32})$/;
const LIST_ID = "mention-list";

/**
 * The autocomplete of a composer whose text is `text`.
 *
 * @returns `track` (call on input, click and caret moves), `close` (on
 * blur), `onKeyDown` (call first; true when it took the key), the
 * textarea's ARIA attributes, and `list`, the listbox and its status line.
 */
export function useMentionInput(
  text: Signal<string>,
  input: RefObject<HTMLTextAreaElement | null>,
  members: Member[],
  meId: string,
) {
  const token = useSignal<Token | null>(null);
  const active = useSignal(0);
  /** The `@` whose list Escape closed: it stays closed until more is typed. */
  const dismissed = useSignal<Token | null>(null);
  const at = token.value;
  const choices = at ? mentionChoices(members, at.query, meId) : [];
  const open = at !== null && choices.length > 0 && !same(at, dismissed.value);
  const current = open ? Math.min(active.value, choices.length - 1) : 0;

  function track() {
    const el = input.current;
    if (!el) return;
    const caret = el.selectionStart;
    const match = el.selectionEnd === caret ? el.value.slice(0, caret).match(TOKEN) : null;
    const next = match ? { start: caret - match[1].length - 1, query: match[1] } : null;
    if (!same(next, token.value)) {
      token.value = next;
      active.value = 0;
    }
    if (!same(next, dismissed.value)) dismissed.value = null;
  }

  function pick(member: Member) {
    const el = input.current;
    if (!el || !at) return;
    const end = at.start + 1 + at.query.length;
    const inserted = `@${member.username} `;
    const value = el.value.slice(0, at.start) + inserted + el.value.slice(end);
    el.value = value;
    text.value = value;
    const caret = at.start + inserted.length;
    el.setSelectionRange(caret, caret);
    el.focus();
    token.value = null;
  }

  function onKeyDown(e: KeyboardEvent): boolean {
    if (!open || e.isComposing) return false;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      const step = e.key === "ArrowDown" ? 1 : -1;
      active.value = (current + step + choices.length) % choices.length;
    } else if ((e.key === "Enter" && !e.shiftKey) || e.key === "Tab") {
      pick(choices[current]);
    } else if (e.key === "Escape") {
      dismissed.value = at;
      e.stopPropagation();
    } else return false;
    e.preventDefault();
    return true;
  }

  const optionId = (m: Member) => `mention-${m.id}`;
  const aria = {
    "aria-autocomplete": "list" as const,
    "aria-controls": open ? LIST_ID : undefined,
    "aria-activedescendant": open ? optionId(choices[current]) : undefined,
  };
  const list = (
    <>
      {open
        ? (
          <ul class="mention-list" id={LIST_ID} role="listbox" aria-label="People to mention">
            {choices.map((m, i) => (
              <li
                key={m.id}
                id={optionId(m)}
                role="option"
                aria-selected={i === current}
                class={i === current ? "active" : undefined}
                // Not a blur of the composer: the pick happens with focus where it was.
                onMouseDown={(e) => {
                  e.preventDefault();
                  pick(m);
                }}
              >
                <Avatar name={m.username} size="sm" />
                {m.username}
              </li>
            ))}
          </ul>
        )
        : null}
      <p class="sr-only" role="status">
        {open
          ? `${choices.length} ${choices.length === 1 ? "person" : "people"} to mention: ` +
            "Up and Down to choose, Enter to pick"
          : ""}
      </p>
    </>
  );
  /** Closes the list (the composer lost focus); the caret coming back opens it again. */
  const close = () => void (token.value = null);
  return { track, close, onKeyDown, aria, list };
}

function same(a: Token | null, b: Token | null): boolean {
  return a?.start === b?.start && a?.query === b?.query;
}
