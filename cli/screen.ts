/**
 * The terminal client's screen: reads the user's lines and prints what
 * arrives without clobbering the line being typed. On a terminal it uses raw
 * mode and redraws the input line below each printed line; on a pipe it
 * reads and prints plain lines.
 *
 * @module
 */
import { LineEditor } from "./line_editor.ts";

const encoder = new TextEncoder();

/** Where input comes from and output goes, so tests and pipes can stand in. */
export interface ScreenIo {
  input: ReadableStream<Uint8Array>;
  write(text: string): void;
  /** Whether input and output are a terminal (raw mode, redraws). */
  interactive: boolean;
  setRaw?(raw: boolean): void;
  columns?(): number;
}

/**
 * Lines in, text out.
 *
 * @example
 * ```ts
 * const screen = Screen.open();
 * screen.setPrompt("#general> ");
 * screen.print("bob: hi");       // shown above the line being typed
 * const line = await screen.readLine(); // null at end of input
 * ```
 */
export class Screen {
  /** Whether this is a terminal with a redrawn prompt line. */
  readonly interactive: boolean;
  #io: ScreenIo;
  #editor = new LineEditor();
  /** The status line shown above the input line (a transfer's progress), if any. */
  #status: string | null = null;
  #lines: (string | null)[] = [];
  #waiters: ((line: string | null) => void)[] = [];
  #ended = false;
  #reading: Promise<void>;

  constructor(io: ScreenIo) {
    this.#io = io;
    this.interactive = io.interactive;
    if (this.interactive) io.setRaw?.(true);
    this.#reading = this.#read();
  }

  /** A screen on the process's stdin and stdout. */
  static open(): Screen {
    const interactive = Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
    return new Screen({
      input: Deno.stdin.readable,
      interactive,
      write: writeStdout,
      setRaw: (raw) => Deno.stdin.setRaw(raw),
      columns: () => {
        try {
          return Deno.consoleSize().columns;
        } catch {
          return 80;
        }
      },
    });
  }

  /** Prints text (one or more lines) above the status line and the line being typed. */
  print(text: string): void {
    if (!this.interactive) return this.#io.write(text + "\n");
    const lines = text.replaceAll("\r\n", "\n").replaceAll("\n", "\r\n");
    this.#io.write(this.#erase() + lines + "\r\n" + this.#draw());
  }

  /**
   * Rings the terminal bell (BEL), on a pipe too: it moves nothing on the
   * screen, and whatever reads the pipe may take it as the alert it is.
   */
  bell(): void {
    this.#io.write("\x07");
  }

  /**
   * Shows `text` on a status line just above the line being typed, redrawn
   * in place each time (a progress bar); `null` removes it. Only on a
   * terminal: a pipe gets the lines printed, never a status.
   *
   * @example
   * ```ts
   * screen.setStatus("Uploading photo.png  42%");
   * screen.setStatus(null);
   * ```
   */
  setStatus(text: string | null): void {
    if (!this.interactive || text === this.#status) return;
    const erase = this.#erase();
    this.#status = text;
    this.#io.write(erase + this.#draw());
  }

  /** Sets the prompt shown before the line being typed (terminal only). */
  setPrompt(prompt: string): void {
    this.#editor.prompt = prompt;
    if (this.interactive) this.#io.write(this.#erase() + this.#draw());
  }

  /** The next line typed; `null` when input ended (Ctrl-D, Ctrl-C or end of the pipe). */
  readLine(): Promise<string | null> {
    if (this.#lines.length) return Promise.resolve(this.#lines.shift()!);
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * Asks one question, e.g. a username; with `secret` the answer is not shown
   * on a terminal. On a pipe the prompt is printed and a line read.
   */
  async question(prompt: string, options: { secret?: boolean } = {}): Promise<string | null> {
    const saved = this.#editor.prompt;
    this.#editor.secret = options.secret ?? false;
    if (this.interactive) this.setPrompt(prompt);
    else this.#io.write(prompt);
    const answer = await this.readLine();
    this.#editor.secret = false;
    if (!this.interactive) {
      this.#io.write("\n");
      return answer;
    }
    // Keep the question in the scrollback, with the answer unless it is a secret.
    const shown = options.secret ? "" : answer ?? "";
    this.#io.write(this.#erase() + prompt + shown + "\r\n");
    this.#editor.prompt = saved;
    this.#io.write(this.#draw());
    return answer;
  }

  /** Puts the terminal back as it was. */
  close(): void {
    if (!this.interactive) return;
    this.#io.write(this.#erase());
    this.#status = null;
    this.#io.setRaw?.(false);
  }

  /** Erases the drawn input, and the status line above it when there is one. */
  #erase(): string {
    const input = this.#editor.erase();
    return this.#status === null ? input : `${input}\x1b[A\r\x1b[J`;
  }

  /** Draws the status line, if any, and the input line below it. */
  #draw(): string {
    const columns = this.#io.columns?.() ?? 80;
    // Kept to one row, so erasing it is one row up.
    const status = this.#status === null ? "" : fit(this.#status, columns - 1) + "\r\n";
    return status + this.#editor.draw(columns);
  }

  #push(line: string | null): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(line);
    else this.#lines.push(line);
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    let partial = "";
    try {
      for await (const chunk of this.#io.input) {
        const text = decoder.decode(chunk, { stream: true });
        if (!this.interactive) {
          partial += text;
          let nl: number;
          while ((nl = partial.indexOf("\n")) >= 0) {
            this.#push(partial.slice(0, nl).replace(/\r$/, ""));
            partial = partial.slice(nl + 1);
          }
          continue;
        }
        for (const action of this.#editor.feed(text)) {
          if (action.kind === "line") this.#push(action.line);
          else if (action.kind === "clear-screen") this.#io.write("\x1b[H\x1b[2J");
          else return;
        }
        this.#io.write(this.#erase() + this.#draw());
      }
      if (partial) this.#push(partial.replace(/\r$/, ""));
    } catch {
      // stdin closed under us: the same as its end
    } finally {
      this.#ended = true;
      for (const waiter of this.#waiters.splice(0)) waiter(null);
      this.#lines.push(null);
    }
  }

  /** Resolves when input has ended. */
  get ended(): Promise<void> {
    return this.#reading;
  }
}

/** `text` cut to `width` characters, so it takes one row. */
function fit(text: string, width: number): string {
  const chars = Array.from(text);
  return chars.length <= width ? text : chars.slice(0, Math.max(1, width - 1)).join("") + "…";
}

function writeStdout(text: string): void {
  let bytes = encoder.encode(text);
  try {
    while (bytes.length) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
  } catch {
    // stdout closed (the reader went away): nothing more to show
  }
}
