/**
 * The content filter: terms a server does not allow (`CONTENT_FILTER_FILE`,
 * one per line). A message or room name containing one, case-insensitively,
 * on word boundaries, after Unicode NFKC normalisation and with invisible
 * format characters removed (so fullwidth forms, ligatures and zero-width
 * joins do not slip through), is refused with 422 `content_blocked`.
 *
 * @module
 */
import { ApiError, Errors } from "./errors.ts";

/**
 * A compiled list of terms.
 *
 * @example
 * ```ts
 * const filter = new ContentFilter(["spam"]);
 * filter.allows("ＳＰＡＭ here"); // false
 * filter.check("fine text");     // no throw
 * ```
 */
export class ContentFilter {
  #pattern: RegExp | null;

  constructor(terms: string[]) {
    const words = terms.map(normalize).map((t) => t.trim()).filter(Boolean);
    this.#pattern = words.length
      ? new RegExp(`(?<![\\p{L}\\p{N}])(?:${words.map(escape).join("|")})(?![\\p{L}\\p{N}])`, "u")
      : null;
  }

  /** Whether `text` contains none of the terms. */
  allows(text: string): boolean {
    return !this.#pattern?.test(normalize(text));
  }

  /**
   * Refuses `text` if it contains a term.
   *
   * @throws {ApiError} `content_blocked` (422).
   */
  check(text: string): void {
    if (!this.allows(text)) throw new ApiError(Errors.contentBlocked);
  }
}

/** Reads a filter file: one term per line; blank lines and `#` comments are skipped. */
export async function readFilterTerms(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path);
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
}

function normalize(text: string): string {
  return text.normalize("NFKC").replace(/\p{Cf}/gu, "").toLowerCase();
}

function escape(term: string): string {
  return term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\s+/g, "\\s+");
}
