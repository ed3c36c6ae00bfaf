/**
 * The terminal client's line editor: turns raw keystrokes into an edited
 * line, and renders that line so it can be erased and drawn again whenever
 * something is printed above it. Pure: no I/O, so it is tested directly.
 *
 * @module
 */

/** What a keystroke chunk produced besides editing the line. */
export type EditorAction =
  | { kind: "line"; line: string }
  | { kind: "eof" }
  | { kind: "interrupt" }
  | { kind: "clear-screen" };

const ESC = "\x1b";

/**
 * The line being typed, its cursor, and the keys that edit it: printable
 * text, Backspace, Delete, ←/→, Home/End, ↑/↓ (history), Ctrl-A/E/K/U/W/L,
 * Enter, Ctrl-C and Ctrl-D.
 *
 * @example
 * ```ts
 * const editor = new LineEditor();
 * editor.feed("helo\x1b[D\x1b[Dl"); // []
 * editor.feed("\r");               // [{ kind: "line", line: "hello" }]
 * ```
 */
export class LineEditor {
  /** Shown before the line. */
  prompt = "";
  /** When set, the line is not shown at all (passwords). */
  secret = false;
  #chars: string[] = [];
  #cursor = 0;
  #pending = "";
  #history: string[] = [];
  #historyAt = 0;
  /** Which row of the drawn input the terminal cursor is on. */
  #cursorRow = 0;

  /** The text typed so far. */
  get text(): string {
    return this.#chars.join("");
  }

  /** The cursor position, in characters from the start of the line. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Applies keystrokes; returns lines completed and other actions, in order. */
  feed(input: string): EditorAction[] {
    const actions: EditorAction[] = [];
    let rest = this.#pending + input;
    this.#pending = "";
    while (rest) {
      if (rest[0] === ESC) {
        // deno-lint-ignore no-control-regex -- escape sequences are what this reads
        const seq = /^\x1b(\[[0-9;]*[~A-Za-z]|O[A-Za-z])/.exec(rest);
        if (seq) {
          this.#escape(seq[1]);
          rest = rest.slice(seq[0].length);
        } else if (
          // deno-lint-ignore no-control-regex -- an escape sequence cut short
          /^\x1b(\[[0-9;]*|O)?$/.test(rest)
        ) {
          this.#pending = rest; // the rest of the sequence is in the next chunk
          break;
        } else rest = rest.slice(1); // a lone Esc, or Alt+key: ignored
        continue;
      }
      const ch = String.fromCodePoint(rest.codePointAt(0)!);
      rest = rest.slice(ch.length);
      const action = this.#key(ch);
      if (action) actions.push(action);
    }
    return actions;
  }

  #key(ch: string): EditorAction | null {
    switch (ch) {
      case "\r":
      case "\n":
        return this.#submit();
      case "\x7f":
      case "\b":
        if (this.#cursor > 0) this.#chars.splice(--this.#cursor, 1);
        return null;
      case "\x03":
        if (!this.#chars.length) return { kind: "interrupt" };
        this.#set([]);
        return null;
      case "\x04":
        if (!this.#chars.length) return { kind: "eof" };
        this.#chars.splice(this.#cursor, 1);
        return null;
      case "\x01":
        this.#cursor = 0;
        return null;
      case "\x05":
        this.#cursor = this.#chars.length;
        return null;
      case "\x0b":
        this.#chars.length = this.#cursor;
        return null;
      case "\x15":
        this.#chars.splice(0, this.#cursor);
        this.#cursor = 0;
        return null;
      case "\x17": {
        let start = this.#cursor;
        while (start > 0 && this.#chars[start - 1] === " ") start--;
        while (start > 0 && this.#chars[start - 1] !== " ") start--;
        this.#chars.splice(start, this.#cursor - start);
        this.#cursor = start;
        return null;
      }
      case "\x0c":
        return { kind: "clear-screen" };
      case "\t":
        ch = " ";
    }
    if (ch < " ") return null; // other control characters
    this.#chars.splice(this.#cursor++, 0, ch);
    return null;
  }

  #escape(seq: string): void {
    const key = seq.replace(/^\[|^O/, "");
    if (key === "C") this.#cursor = Math.min(this.#chars.length, this.#cursor + 1);
    else if (key === "D") this.#cursor = Math.max(0, this.#cursor - 1);
    else if (key === "H" || key === "1~" || key === "7~") this.#cursor = 0;
    else if (key === "F" || key === "4~" || key === "8~") this.#cursor = this.#chars.length;
    else if (key === "3~") this.#chars.splice(this.#cursor, 1);
    else if (key === "A" && !this.secret) this.#recall(-1);
    else if (key === "B" && !this.secret) this.#recall(1);
  }

  #submit(): EditorAction {
    const line = this.text;
    if (line.trim() && !this.secret && this.#history.at(-1) !== line) {
      this.#history.push(line);
      if (this.#history.length > 500) this.#history.shift();
    }
    this.#historyAt = this.#history.length;
    this.#set([]);
    return { kind: "line", line };
  }

  #recall(step: number): void {
    const at = Math.max(0, Math.min(this.#history.length, this.#historyAt + step));
    if (at === this.#historyAt) return;
    this.#historyAt = at;
    this.#set(Array.from(this.#history[at] ?? ""));
  }

  #set(chars: string[]): void {
    this.#chars = chars;
    this.#cursor = chars.length;
  }

  /**
   * Escape sequences that erase the drawn input: back to its first row,
   * then clear to the end of the screen.
   */
  erase(): string {
    const up = this.#cursorRow > 0 ? `${ESC}[${this.#cursorRow}A` : "";
    this.#cursorRow = 0;
    return `${up}\r${ESC}[J`;
  }

  /**
   * Draws prompt and line from the start of an empty row, leaving the
   * cursor where it is in the line. `columns` is the terminal's width.
   */
  draw(columns: number): string {
    const shown = this.secret ? "" : this.text;
    const before = this.secret ? 0 : this.#chars.slice(0, this.#cursor).join("").length;
    const total = this.prompt.length + shown.length;
    const cols = Math.max(columns, 10);
    let out = this.prompt + shown;
    // At an exact multiple of the width the terminal holds the cursor at the last column;
    // a newline puts it where the next character would go.
    if (total > 0 && total % cols === 0) out += "\r\n";
    const endRow = Math.floor(total / cols);
    const at = this.prompt.length + before;
    const row = Math.floor(at / cols);
    const col = at % cols;
    if (endRow > row) out += `${ESC}[${endRow - row}A`;
    out += "\r";
    if (col > 0) out += `${ESC}[${col}C`;
    this.#cursorRow = row;
    return out;
  }
}
