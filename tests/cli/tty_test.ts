import assert from "node:assert/strict";
import { api, hasTmux, register, startServer, tempDir, TmuxClient } from "./harness.ts";

Deno.test({
  name: "[cli] on a terminal: the password is not echoed, and a half-typed line survives arrivals",
  ignore: !hasTmux,
  async fn() {
    await using dir = await tempDir();
    await using server = await startServer(`${dir.path}/parley.kv`);
    const aliceToken = await register(server.url, "alice");
    const bobToken = await register(server.url, "bob");
    const room = await api<{ room: { id: string } }>(server.url, "/api/rooms", {
      token: aliceToken,
      body: { name: "den" },
    });
    const roomId = room.body.room.id;
    await api(server.url, `/api/rooms/${roomId}/join`, { token: bobToken, body: {} });

    await using tty = new TmuxClient();
    await tty.start(
      [Deno.execPath(), "run", "-A", "cli/main.ts", "--server", server.url],
      {
        HOME: dir.path,
        XDG_CONFIG_HOME: `${dir.path}/.config`,
        DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
        TERM: "xterm",
      },
    );
    await tty.waitFor(/Username: ?$/);
    await tty.keys("alice");
    await tty.keys("Enter", false);
    await tty.waitFor(/Username: alice\nPassword: ?$/);
    await tty.keys("password-123");
    const asking = await tty.screen();
    assert.doesNotMatch(asking, /password-123/);
    await tty.keys("Enter", false);
    await tty.waitFor(/#den> ?$/);
    assert.doesNotMatch(await tty.screen(), /password-123/);

    // Half a line typed, with the cursor moved back and forth, then a message arrives.
    await tty.keys("half typxed");
    for (const key of ["Left", "Left", "BSpace", "Right", "Right"]) await tty.keys(key, false);
    await tty.waitFor(/#den> half typed$/);
    const post = (text: string) =>
      api(server.url, `/api/rooms/${roomId}/messages`, { token: bobToken, body: { text } });
    await post("first interruption");
    await post("second \x1b[2Jinterruption");
    const screen = await tty.waitFor(/bob: second \[2Jinterruption\n#den> half typed$/);
    assert.match(screen, /bob: first interruption\n.*bob: second/);

    await tty.keys(" and finished");
    await tty.keys("Enter", false);
    await tty.waitFor(/alice: half typed and finished\n#den> ?$/);
    const history = await api<{ messages: { text: string; author: { username: string } }[] }>(
      server.url,
      `/api/rooms/${roomId}/messages`,
      { token: bobToken },
    );
    assert.deepEqual(history.body.messages.map((m) => `${m.author.username}: ${m.text}`), [
      "bob: first interruption",
      "bob: second \x1b[2Jinterruption",
      "alice: half typed and finished",
    ]);

    // /password asks as signing in does: nothing of what is typed shows.
    for (
      const [line, next] of [
        ["/password", /Current password: ?$/],
        ["password-123", /New password: ?$/],
        ["better-password-456", /Repeat new password: ?$/],
        [
          "better-password-456",
          /\* Password changed; your other sessions were signed out\.\n#den> ?$/,
        ],
      ] as const
    ) {
      await tty.keys(line);
      await tty.keys("Enter", false);
      await tty.waitFor(next);
    }
    assert.doesNotMatch(await tty.screen(), /password-123|better-password-456/);
    const login = await api(server.url, "/api/auth/login", {
      body: { username: "alice", password: "better-password-456" },
    });
    assert.equal(login.status, 200);
    // Up-arrow recalls what was typed as lines, never an answer to a secret question.
    await tty.keys("Up", false);
    await tty.waitFor(/#den> \/password$/);
    await tty.keys("C-u", false);

    await tty.keys("/quit");
    await tty.keys("Enter", false);
    assert.ok(await tty.ended(), "the client exits on /quit");
  },
});
