/**
 * The terminal client's command-line flags.
 *
 * @module
 */

/** What the command line asked for. */
export interface CliArgs {
  server: string;
  user?: string;
  register: boolean;
  help: boolean;
}

/** The text of `--help`: every flag and environment variable. */
export const usage = `Parley terminal client

Usage: parley-cli [--server URL] [--user NAME] [--register]

Flags:
  --server URL   the Parley server (default $PARLEY_SERVER or http://localhost:8000)
  --user NAME    sign in as NAME; the password comes from $PARLEY_PASSWORD,
                 or is asked for when that is not set
  --register     create the account instead of signing in to it
  -h, --help     show this help and exit

Environment:
  PARLEY_PASSWORD   password for --user, for signing in without a prompt
  PARLEY_SERVER     default for --server
  XDG_CONFIG_HOME   where the saved session goes (default ~/.config): parley/sessions.json,
                    and this device's end-to-end encryption keys: parley/keys.json

Once signed in, the session is saved (readable by you only) and the next start
needs no password; /logout ends it. Type /help inside for the commands.`;

/**
 * Parses the flags; `--flag value` and `--flag=value` both work.
 *
 * @throws {Error} with a one-line message for an unknown flag or a missing value.
 * @example
 * ```ts
 * parseArgs(["--server", "http://chat.local:8000", "--user", "ann"], {});
 * ```
 */
export function parseArgs(argv: string[], env: Record<string, string | undefined>): CliArgs {
  const args: CliArgs = {
    server: env.PARLEY_SERVER || "http://localhost:8000",
    register: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].startsWith("--") && argv[i].includes("=")
      ? [argv[i].slice(0, argv[i].indexOf("=")), argv[i].slice(argv[i].indexOf("=") + 1)]
      : [argv[i], undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "") throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--server":
        args.server = value();
        break;
      case "--user":
        args.user = value();
        break;
      case "--register":
        args.register = true;
        break;
      case "-h":
      case "--help":
        args.help = true;
        break;
      default:
        throw new Error(`Unknown argument ${argv[i]}; try --help`);
    }
  }
  let url: URL;
  try {
    url = new URL(args.server);
  } catch {
    throw new Error(`--server must be a URL like http://localhost:8000, not "${args.server}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`--server must be an http:// or https:// URL, not "${args.server}"`);
  }
  args.server = url.origin;
  return args;
}
