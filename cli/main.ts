/**
 * Parley's terminal client: `deno task cli [--server URL] [--user NAME] [--register]`.
 * It talks to the server only through the public HTTP + SSE API.
 *
 * @module
 */
import { Api } from "./api.ts";
import { parseArgs, usage } from "./args.ts";
import { Chat } from "./chat.ts";
import { configDir, SessionStore } from "./config_file.ts";
import { Encryption } from "./encryption.ts";
import { describe } from "./format.ts";
import { KeyFile } from "./key_file.ts";
import { Screen } from "./screen.ts";
import { signIn } from "./sign_in.ts";

/** Runs the client; resolves to the process's exit code. */
export async function main(argv: string[], env: Record<string, string | undefined>) {
  let args;
  try {
    args = parseArgs(argv, env);
  } catch (error) {
    console.error(`parley-cli: ${describe(error)}`);
    return 2;
  }
  if (args.help) {
    console.log(usage);
    return 0;
  }
  const screen = Screen.open();
  // Whatever slips through is still one line, never a stack trace.
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    screen.print(`! ${describe(event.reason)}`);
  });
  const api = new Api(args.server);
  let chat: Chat | null = null;
  try {
    const store = new SessionStore(configDir(env));
    const me = await signIn({
      api,
      screen,
      store,
      user: args.user,
      register: args.register,
      password: env.PARLEY_PASSWORD || undefined,
    });
    // This device's keys, made the first time; without them the rest still works.
    const encryption = await Encryption.open({ api, me, file: new KeyFile(store.dir) })
      .catch((error) => {
        screen.print(`! End-to-end encryption is off on this device: ${describe(error)}`);
        return null;
      });
    chat = new Chat({
      api,
      screen,
      me,
      encryption,
      forgetSession: () => store.delete(api.server),
      // https://no-color.org: set and not empty means none; a pipe gets none either.
      color: screen.interactive && !env.NO_COLOR && env.TERM !== "dumb",
    });
    await chat.start();
    const end = await chat.run();
    return end === "unauthorized" ? 1 : 0;
  } catch (error) {
    screen.print(`! ${describe(error)}`);
    return 1;
  } finally {
    await chat?.close();
    screen.close();
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args, Deno.env.toObject()));
}
