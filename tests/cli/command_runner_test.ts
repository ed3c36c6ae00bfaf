import assert from "node:assert/strict";
import { Api } from "../../cli/api.ts";
import { ChatView } from "../../cli/chat_view.ts";
import { parseLine, runCommand } from "../../cli/command_runner.ts";
import { Outbox } from "../../cli/outbox.ts";
import { Screen } from "../../cli/screen.ts";
import type { User } from "../../shared/api_types.ts";
import { withOnline } from "../../shared/client_state.ts";
import { startServer, tempDir } from "./harness.ts";

/** A user signed up through the client's own Api. */
async function signUp(server: string, username: string) {
  const api = new Api(server);
  const { user, token } = await api.request<{ user: User; token: string }>(
    "POST",
    "/api/auth/register",
    { body: { username, password: "password-123" } },
  );
  api.token = token;
  return { api, user };
}

Deno.test("runCommand() /users marks offline whoever went offline unseen", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const alice = await signUp(server.url, "alice");
  const bob = await signUp(server.url, "bob");
  const printed: string[] = [];
  const screen = new Screen({
    input: new ReadableStream({ start: (c) => c.close() }),
    write: (text) => printed.push(text.replace(/\n$/, "")),
    interactive: false,
  });
  const view = new ChatView(alice.api, screen, alice.user);
  // Bob was seen online, and his going offline was missed (a stream reset, say).
  view.update(withOnline(view.state, [{ id: bob.user.id, online: true }]));
  const outbox = new Outbox(alice.api, (line) => view.say(line));
  const end = await runCommand(parseLine("/users"), {
    view,
    outbox,
    forgetSession: () => Promise.resolve(),
  });
  assert.equal(end, null);
  assert.equal(view.state.online[bob.user.id], false, "bob is offline now");
  assert.ok(printed.some((line) => line.startsWith("Online (0)")), printed.join("\n"));
});
