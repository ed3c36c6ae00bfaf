/**
 * Signing in from the terminal: a saved session first, then `--user` with
 * `PARLEY_PASSWORD`, then prompts.
 *
 * @module
 */
import { type Api, ApiFailure, type SignedIn } from "./api.ts";
import type { SessionStore } from "./config_file.ts";
import { describe } from "./format.ts";
import type { Screen } from "./screen.ts";
import type { User } from "../shared/api_types.ts";

/** What signing in needs. */
export interface SignInOptions {
  api: Api;
  screen: Screen;
  store: SessionStore;
  user?: string;
  register: boolean;
  /** `PARLEY_PASSWORD`, when set. */
  password?: string;
}

/**
 * Signs in and sets `api.token`. A password given on the command line wins
 * over a saved session (and replaces it); otherwise a saved session for the
 * same user is used without asking; otherwise the user is asked.
 *
 * @throws {ApiFailure} wrong password, taken username, and the like.
 * @throws {Unreachable} when the server does not answer.
 */
export async function signIn(o: SignInOptions): Promise<User> {
  const { api, screen, store } = o;
  if (o.user && o.password) return await authenticate(o, o.user, o.password);
  if (!o.register) {
    const saved = await store.get(api.server);
    if (saved && (!o.user || saved.username.toLowerCase() === o.user.toLowerCase())) {
      api.token = saved.token;
      try {
        return (await api.me()).user;
      } catch (error) {
        if (!(error instanceof ApiFailure && error.status === 401)) throw error;
        api.token = null;
        await store.delete(api.server);
        screen.print("The saved session has expired; sign in again.");
      }
    }
  }
  // On a terminal a typo gets two more chances; from a pipe the first answer is final.
  const attempts = screen.interactive ? 3 : 1;
  for (let attempt = 1;; attempt++) {
    const username = o.user ?? await ask(screen, "Username: ");
    const password = await ask(screen, "Password: ", true);
    if (o.register && screen.interactive) {
      if (await ask(screen, "Repeat password: ", true) !== password) {
        screen.print("! The passwords differ.");
        continue;
      }
    }
    try {
      return await authenticate(o, username, password);
    } catch (error) {
      // A rate limit is not a typo: asking again would only be refused again.
      const final = !(error instanceof ApiFailure) || error.status >= 500 || error.rateLimited;
      if (final || attempt >= attempts) throw error;
      screen.print(`! ${describe(error)}`);
    }
  }
}

async function authenticate(o: SignInOptions, username: string, password: string) {
  const done: SignedIn = o.register
    ? await o.api.register(username, password)
    : await o.api.login(username, password);
  const old = await o.store.get(o.api.server);
  o.api.token = done.token;
  await o.store.set(o.api.server, { username: done.user.username, token: done.token });
  // The session this one replaces would otherwise stay valid on the server until it expires.
  if (old && old.token !== done.token) {
    await fetch(`${o.api.server}/api/auth/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${old.token}` },
      signal: AbortSignal.timeout(3_000),
    }).then((r) => r.body?.cancel()).catch(() => {});
  }
  return done.user;
}

/**
 * Asks one question and returns the answer; with `secret` it is not shown on
 * a terminal, nor kept in the line history. Signing in and `/password` ask
 * through it.
 *
 * @throws {Error} when input ends first, or the answer is empty.
 */
export async function ask(
  screen: Screen,
  prompt: string,
  secret = false,
  ended = "Input ended before signing in.",
): Promise<string> {
  const answer = await screen.question(prompt, { secret });
  if (answer === null) throw new Error(ended);
  if (!answer.trim()) throw new Error(`${prompt.replace(/:\s*$/, "")} cannot be empty.`);
  return secret ? answer : answer.trim();
}
