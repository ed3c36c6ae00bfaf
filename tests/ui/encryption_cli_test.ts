/**
 * The two clients read each other: a browser user (real Chromium) and a
 * terminal-client user (the real client as a process on pipes, as
 * tests/cli/harness.ts drives it) exchange end-to-end encrypted messages
 * both ways, over one real server whose KV never sees the text.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import type { PublishedDevice } from "../../shared/e2e.ts";
import { count, startClient, tempDir } from "../cli/harness.ts";
import { call } from "../helpers.ts";
import { skipBrowser, startUi, type UiHarness } from "./browser.ts";
import { messageList, send, T } from "./helpers.ts";

const PASSWORD = "password-123";
const SECRET = {
  browser: "from the browser: the owl flies at dusk 62af",
  terminal: "from the terminal: the owl has landed 0b7e",
  opened: "the terminal opens this one 4c19",
  answer: "and the browser answers it d572",
};

/** Waits until `username` has an active device on the server. */
async function waitForDevice(h: UiHarness, token: string, username: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await call(h.direct, `/api/users/${username}/devices`, { token });
    const devices = (res.body?.devices ?? []) as PublishedDevice[];
    if (devices.some((d) => d.retiredAt === null)) return;
    if (Date.now() > deadline) throw new Error(`${username} published no device`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The safety number the page's dialog shows; the dialog is closed again. */
async function safetyNumberOn(page: Page): Promise<string> {
  await page.getByRole("button", { name: /^End-to-end encrypted.*safety number$/ }).click();
  const number = page.locator(".safety-number");
  await number.waitFor(T);
  const text = (await number.textContent())!.trim();
  await page.keyboard.press("Escape");
  return text;
}

/** Everything in the KV as text, raw bytes decoded too. */
async function kvText(kv: Deno.Kv): Promise<string> {
  let out = "";
  for await (const entry of kv.list({ prefix: [] })) {
    const value = entry.value;
    out += value instanceof Uint8Array
      ? new TextDecoder().decode(value)
      : Deno.inspect(value, { depth: Infinity, strAbbreviateSize: Infinity });
    out += "\n";
  }
  return out;
}

Deno.test({
  name: "[ui] a browser user and a terminal-client user exchange encrypted messages both ways",
  ignore: skipBrowser,
  async fn() {
    await using h = await startUi();
    await using dir = await tempDir();
    const dana = await h.user("dana");
    const erin = await h.user("erin");
    const page = await h.open(dana.context);
    await using cli = startClient({
      server: h.direct,
      home: `${dir.path}/cole`,
      args: ["--user", "cole", "--register"],
      password: PASSWORD,
    });
    await cli.waitFor("Type /help for commands.", 15_000);
    await waitForDevice(h, dana.token, "dana");
    await waitForDevice(h, dana.token, "cole");
    const run = async (line: string, expect: RegExp | string) => {
      const from = cli.stdout.length;
      await cli.line(line);
      return await cli.waitFor(expect, 10_000, from);
    };

    // The browser starts an encrypted conversation and writes first.
    await page.getByRole("button", { name: "New message" }).click();
    await page.getByLabel("End-to-end encrypted").check();
    await page.getByRole("dialog").getByRole("button", { name: "Message cole" }).click();
    await page.getByRole("heading", { name: "cole", exact: true }).waitFor(T);
    const roomId = new URL(page.url()).pathname.split("/").pop()!;
    await send(page, SECRET.browser);
    await messageList(page).locator("li.msg").getByText(SECRET.browser).waitFor(T);
    await cli.waitFor(`dana: ${SECRET.browser}`, 10_000);
    await run("/switch @dana", /Now in @dana 🔒/);

    // The terminal answers; the browser reads it.
    await run(SECRET.terminal, new RegExp(`\\] cole: ${SECRET.terminal}\\n`));
    await messageList(page).getByText(SECRET.terminal).waitFor(T);
    await run("/rooms", "> @dana 🔒");

    // Both compute the same safety number.
    const shown = await run("/verify", /(\d{5} ){11}\d{5}/);
    assert.equal(await safetyNumberOn(page), shown);

    // The terminal opens an encrypted conversation of its own; the browser, a new one, reads it.
    const other = await h.open(erin.context);
    await waitForDevice(h, erin.token, "erin");
    await run(`/dm erin --encrypted ${SECRET.opened}`, new RegExp(`cole: ${SECRET.opened}`));
    const item = other.locator(".room-item", { hasText: "cole" });
    await item.locator(".room-lock").waitFor(T);
    await item.click();
    await messageList(other).getByText(SECRET.opened).waitFor(T);
    await send(other, SECRET.answer);
    await cli.waitFor(new RegExp(`\\] erin: ${SECRET.answer}\\n`), 10_000);

    // The server held and answered envelopes only.
    const history = await call(h.direct, `/api/rooms/${roomId}/messages`, { token: dana.token });
    assert.ok(
      history.body.messages.every((m: { text: string; envelope?: unknown }) =>
        m.text === "" && m.envelope
      ),
    );
    const seen = (await kvText(h.kv)) + JSON.stringify(history.body);
    for (const text of Object.values(SECRET)) {
      assert.ok(!seen.includes(text), `"${text}" reached the server`);
    }
    assert.equal(count(cli.stdout, "could not decrypt"), 0);
    assert.equal(await messageList(page).getByText("could not decrypt").count(), 0);
    await cli.line("/quit");
    assert.equal(await cli.finish(), 0);
  },
});
