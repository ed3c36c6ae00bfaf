/**
 * End-to-end encrypted direct conversations in the web app, in real headless
 * Chromium against a real Parley server: two browser users (and a second
 * browser of one of them), devices published from the test with
 * `shared/e2e.ts`, and the server's KV searched for what it must not hold.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { Download, Page } from "playwright-core";
import {
  createDeviceKeys,
  decryptMessage,
  type DeviceKeys,
  encryptMessage,
  type Envelope,
  publicJwks,
  type PublishedDevice,
} from "../../shared/e2e.ts";
import { TRIM_BATCH, trimLog } from "../../lib/feed.ts";
import { call } from "../helpers.ts";
import { skipBrowser, startUi, type UiHarness } from "./browser.ts";
import { messageList, say, send, T } from "./helpers.ts";

/** What the users write: none of it may reach the server in the clear. */
const SECRET = {
  first: "the eagle lands at noon 7f3a",
  reply: "copy that, the nest is ready 91c2",
  held: "sent once bob's new device was accepted 55d0",
  second: "for both of my browsers b81e",
  resumed: "written while the network was down 3e6f",
  file: "the contents of the encrypted notes file c4a9",
  fileName: "launch-codes-4d21.txt",
  edited: "edited: the eagle lands at one 7f3a",
  retried: "sent twice, kept once 2b8d",
  ownHeld: "sent once my own new device was accepted 6a1e",
  offRetry: "typed while encrypted, retried after the switch-off 4c7b",
  offRefused: "refused as the switch-off crossed it 8e25",
};
/** A 1 × 1 PNG. */
const PIXEL = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);

/** Waits until `username` has `count` active devices on the server. */
async function waitForDevices(
  h: UiHarness,
  token: string,
  username: string,
  count: number,
): Promise<PublishedDevice[]> {
  const deadline = Date.now() + T.timeout;
  for (;;) {
    const devices = await devicesOf(h, token, username);
    if (devices.filter((d) => d.retiredAt === null).length === count) return devices;
    if (Date.now() > deadline) {
      throw new Error(`${username} has ${devices.length} devices, not ${count}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function devicesOf(h: UiHarness, token: string, username: string) {
  const res = await call(h.direct, `/api/users/${username}/devices`, { token });
  assert.equal(res.status, 200);
  return res.body.devices as PublishedDevice[];
}

/** A device made and published by the test, as a client of `token`'s user would. */
async function publishDevice(h: UiHarness, token: string, name: string): Promise<DeviceKeys> {
  const keys = await createDeviceKeys();
  const res = await call(h.direct, `/api/me/devices/${keys.id}`, {
    token,
    method: "PUT",
    body: { ...await publicJwks(keys), name },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return keys;
}

/** Seals `text` from a test device for every device of both users, and posts it. */
async function postFrom(
  h: UiHarness,
  o: { token: string; roomId: string; sender: DeviceKeys; users: string[]; text: string },
  spoil: (e: Envelope) => Envelope = (e) => e,
): Promise<{ seq: number; envelope: Envelope }> {
  const recipients = (await Promise.all(o.users.map((u) => devicesOf(h, o.token, u)))).flat();
  const envelope = await encryptMessage({
    roomId: o.roomId,
    sender: o.sender,
    recipients,
    payload: { v: 1, text: o.text },
  });
  const res = await call(h.direct, `/api/rooms/${o.roomId}/messages`, {
    token: o.token,
    body: { envelope: spoil(envelope) },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.message;
}

/** Base64 with one bit of byte `at` flipped. */
function flipped(base64: string, at = 0): string {
  const bytes = Buffer.from(base64, "base64");
  bytes[at] ^= 1;
  return bytes.toString("base64");
}

/** Every value in the KV as searchable text: JSON-ish, and raw bytes as UTF-8. */
async function kvText(kv: Deno.Kv): Promise<string> {
  const parts: string[] = [];
  for await (const entry of kv.list({ prefix: [] })) {
    parts.push(JSON.stringify(entry.key, (_, v) => typeof v === "bigint" ? String(v) : v));
    const value = entry.value;
    if (value instanceof Uint8Array) parts.push(new TextDecoder().decode(value));
    else {
      parts.push(Deno.inspect(value, {
        depth: Infinity,
        iterableLimit: Infinity,
        strAbbreviateSize: Infinity,
        breakLength: Infinity,
      }));
    }
  }
  return parts.join("\n");
}

/** The message row of `seq`. */
function row(page: Page, seq: number) {
  return messageList(page).locator(`li.msg[data-seq="${seq}"]`);
}

/** The lock button's path, to tell a lock icon from the others. */
const LOCK_PATH = 'path[d^="M6 11h12v10H6z"]';

/** The room's newest seq, as the server has it. */
async function lastSeq(h: UiHarness, token: string, roomId: string): Promise<number> {
  return (await call(h.direct, `/api/rooms/${roomId}`, { token })).body.room.lastSeq;
}

/** Says OK to every "devices changed" warning the page shows. */
async function acceptWarnings(page: Page): Promise<void> {
  const warnings = page.locator(".e2e-warning");
  for (let n = await warnings.count(); n > 0; n = await warnings.count()) {
    await warnings.first().getByRole("button", { name: "OK" }).click();
    await page.waitForFunction(
      (n) => document.querySelectorAll(".e2e-warning").length < n,
      n,
      T,
    );
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

Deno.test({
  name: "[ui] end-to-end encrypted direct conversations in Chromium",
  ignore: skipBrowser,
  async fn(t) {
    await using h = await startUi();
    const alice = await h.user("alice");
    const bob = await h.user("bob");
    const a = await h.open(alice.context);
    const b = await h.open(bob.context);
    // Every answer the pages get from the API, to search for plaintext.
    const answers: string[] = [];
    for (const page of [a, b]) {
      page.on("response", async (res) => {
        if (!res.url().includes("/api/") || res.url().includes("/api/events")) return;
        if (!res.headers()["content-type"]?.includes("json")) return;
        answers.push(await res.text().catch(() => ""));
      });
    }
    // Each browser published a device of its own as it started.
    await waitForDevices(h, alice.token, "alice", 1);
    await waitForDevices(h, bob.token, "bob", 1);
    let roomId = "";
    // Each step builds on the one before: after a failure the rest would only time out.
    let failed = false;
    const step = async (name: string, fn: () => Promise<void>) => {
      if (!await t.step({ name, ignore: failed, fn })) failed = true;
    };

    await step("alice starts an encrypted conversation; both read each other", async () => {
      await a.getByRole("button", { name: "New message" }).click();
      await a.getByLabel("End-to-end encrypted").check();
      await a.getByRole("dialog").getByRole("button", { name: "Message bob" }).click();
      await a.getByRole("heading", { name: "bob", exact: true }).waitFor(T);
      roomId = new URL(a.url()).pathname.split("/").pop()!;
      assert.equal(
        (await call(h.direct, `/api/rooms/${roomId}`, { token: bob.token })).body
          .room.encrypted,
        true,
      );
      await a.getByRole("button", { name: "End-to-end encrypted: safety number" }).waitFor(T);
      await a.getByText(
        "Messages are end-to-end encrypted. Devices added later can't read earlier messages. " +
          "The server still sees who talks to whom, and when.",
      ).waitFor(T);

      await send(a, SECRET.first);
      await row(a, 1).getByText(SECRET.first).waitFor(T);
      // Bob's sidebar marks the conversation with a lock; its preview is decrypted there.
      const item = b.locator(`[data-room-id="${roomId}"]`);
      await item.locator(".room-lock").waitFor(T);
      await item.getByText(SECRET.first).waitFor(T);
      await item.click();
      await row(b, 1).getByText(SECRET.first).waitFor(T);
      await b.getByRole("button", { name: "End-to-end encrypted: safety number" }).waitFor(T);

      await send(b, SECRET.reply);
      await row(a, 2).getByText(SECRET.reply).waitFor(T);
      await row(b, 2).getByText(SECRET.reply).waitFor(T);

      // Alice edits her message: a new envelope, read on the other side.
      await row(a, 1).hover();
      await row(a, 1).getByRole("button", { name: /^Options for your message/ }).click();
      await a.getByRole("menuitem", { name: "Edit" }).click();
      await a.getByLabel("Edit message").fill(SECRET.edited);
      await a.getByLabel("Edit message").press("Enter");
      await row(b, 1).getByText(SECRET.edited).waitFor(T);
      await row(b, 1).getByText("(edited)").waitFor(T);
    });

    await step("the server keeps and answers envelopes only, never the text", async () => {
      const history = await call(h.direct, `/api/rooms/${roomId}/messages`, {
        token: alice.token,
      });
      const messages = history.body.messages as { text: string; envelope?: Envelope }[];
      assert.equal(messages.length, 2);
      for (const m of messages) {
        assert.equal(m.text, "");
        assert.ok(m.envelope?.ciphertext);
      }
      const stored = await kvText(h.kv);
      // The envelopes are in the KV (so the search below looks where the messages are)…
      assert.ok(stored.includes(messages[1].envelope!.ciphertext));
      // …and the text is nowhere: not in KV, not in any answer the pages got.
      const seen = [
        stored,
        ...answers,
        JSON.stringify(history.body),
        JSON.stringify((await call(h.direct, "/api/rooms", { token: bob.token })).body),
      ].join("\n");
      for (const text of [SECRET.first, SECRET.reply, SECRET.edited]) {
        assert.ok(!seen.includes(text), `"${text}" reached the server`);
        assert.ok(!seen.includes(text.slice(0, 12)), `the start of "${text}" reached the server`);
      }
      // Plaintext is refused in an encrypted conversation.
      const plain = await call(h.direct, `/api/rooms/${roomId}/messages`, {
        token: alice.token,
        body: { text: "in the clear" },
      });
      assert.equal(plain.status, 400);
      assert.equal(plain.body.error.code, "encryption_required");
    });

    await step("both sides show the same safety number; bob marks alice verified", async () => {
      // `/verify yes` before the number was ever shown marks nothing: it shows the number.
      await send(b, "/verify yes");
      await b.locator(".safety-number").waitFor(T);
      await b.getByRole("status").filter({ hasText: "You have not verified alice." }).waitFor(T);
      await b.keyboard.press("Escape");
      assert.equal(
        await b.getByRole("button", { name: "End-to-end encrypted, verified: safety number" })
          .count(),
        0,
      );
      const numbers = [await safetyNumberOn(a), await safetyNumberOn(b)];
      assert.match(numbers[0], /^(\d{5} ){11}\d{5}$/);
      assert.equal(numbers[0], numbers[1]);
      await b.getByRole("button", { name: "End-to-end encrypted: safety number" }).click();
      await b.getByRole("button", { name: "Mark verified" }).click();
      await b.getByRole("status").filter({ hasText: "You verified alice." }).waitFor(T);
      await b.keyboard.press("Escape");
      await b.getByRole("button", { name: "End-to-end encrypted, verified: safety number" })
        .waitFor(T);
    });

    let bobDevice: DeviceKeys | null = null;
    await step("a tampered envelope shows “could not decrypt” and nothing else", async () => {
      // A device of alice's made by the test: its genuine message reads fine…
      const aliceTool = await publishDevice(h, alice.token, "test tool");
      const o = { token: alice.token, roomId, sender: aliceTool, users: ["alice", "bob"] };
      const genuine = await postFrom(h, { ...o, text: "genuine, from the test device" });
      await row(b, genuine.seq).getByText("genuine, from the test device").waitFor(T);
      // …the same with one bit of the ciphertext, or of the signature, changed does not.
      const spoiled = [
        await postFrom(h, { ...o, text: "tampered ciphertext e01b" }, (e) => ({
          ...e,
          ciphertext: flipped(e.ciphertext, 3),
        })),
        await postFrom(h, { ...o, text: "tampered signature 9a7c" }, (e) => ({
          ...e,
          signature: flipped(e.signature, 10),
        })),
        await postFrom(h, { ...o, text: "wrapped key swapped 0d3f" }, (e) => ({
          ...e,
          keys: Object.fromEntries(
            Object.entries(e.keys).map(([id, key]) => [id, flipped(key, 20)]),
          ),
        })),
      ];
      for (const m of spoiled) {
        for (const page of [a, b]) {
          const r = row(page, m.seq);
          await r.locator(".msg-undecryptable").waitFor(T);
          assert.equal(
            (await r.locator(".msg-body .msg-text").allTextContents()).join("|"),
            "could not decrypt",
          );
          assert.equal(await r.locator(".attachments, .quote").count(), 0);
        }
      }
      const shown = await messageList(b).textContent();
      for (const text of ["tampered ciphertext", "tampered signature", "wrapped key swapped"]) {
        assert.ok(!shown!.includes(text));
      }
      // Alice's new device is news to bob: the warning, and alice is no longer verified.
      await b.getByRole("alert").filter({
        hasText: "alice's devices changed — compare safety numbers",
      })
        .waitFor(T);
      await b.getByRole("button", { name: "End-to-end encrypted: safety number" }).waitFor(T);
      // `/verify yes` does not take the changed set on trust: it shows the new number first…
      await send(b, "/verify yes");
      await b.locator(".safety-number").waitFor(T);
      await b.getByRole("status").filter({
        hasText: "alice's devices changed since you last looked.",
      })
        .waitFor(T);
      await b.keyboard.press("Escape");
      assert.equal(await b.locator(".e2e-warning").count(), 1);
      // …and, that number seen, marks alice verified again.
      await send(b, "/verify yes");
      await b.getByRole("button", { name: "End-to-end encrypted, verified: safety number" })
        .waitFor(T);
      await b.locator(".e2e-warning").waitFor({ state: "detached", ...T });

      // The new device is alice's own: her browser warns her too, and holds her next message.
      const own = a.getByRole("alert").filter({
        hasText: "Your devices changed: a new device can read what you send from now on — " +
          "if it isn't yours",
      });
      await own.waitFor(T);
      const before = await lastSeq(h, alice.token, roomId);
      await send(a, SECRET.ownHeld);
      await a.locator(".msg-failed").getByText("your devices changed").waitFor(T);
      assert.equal(await lastSeq(h, alice.token, roomId), before);
      await own.getByRole("button", { name: "OK" }).click();
      await own.waitFor({ state: "detached", ...T });
      await row(b, before + 1).getByText(SECRET.ownHeld).waitFor(T);
    });

    await step("bob's new device warns alice before she sends again", async () => {
      const bobTool = await publishDevice(h, bob.token, "bob's new phone");
      const warning = a.getByRole("alert").filter({
        hasText: "bob's devices changed — compare safety numbers",
      });
      await warning.waitFor(T);
      const before = (await call(h.direct, `/api/rooms/${roomId}`, { token: alice.token })).body
        .room.lastSeq;
      await send(a, SECRET.held);
      // Held back, not sent, until alice says OK.
      await a.locator(".msg-failed").getByText("bob's devices changed").waitFor(T);
      assert.equal(
        (await call(h.direct, `/api/rooms/${roomId}`, { token: alice.token })).body.room.lastSeq,
        before,
      );
      await warning.getByRole("button", { name: "OK" }).click();
      await warning.waitFor({ state: "detached", ...T });
      await row(b, before + 1).getByText(SECRET.held).waitFor(T);
      await row(a, before + 1).getByText(SECRET.held).waitFor(T);
      // It was sealed for bob's new device too.
      const sent = (await call(h.direct, `/api/rooms/${roomId}/messages?after=${before}`, {
        token: bob.token,
      })).body.messages[0];
      const payload = await decryptMessage({
        roomId,
        envelope: sent.envelope,
        me: bobTool,
        senderDevices: await devicesOf(h, bob.token, "alice"),
      });
      assert.equal(payload?.text, SECRET.held);
      bobDevice = bobTool;
    });

    await step("a retry sends the very same envelope, not a new one", async () => {
      const before = (await call(h.direct, `/api/rooms/${roomId}`, { token: alice.token })).body
        .room.lastSeq;
      const bodies: { clientId: string; envelope: Envelope }[] = [];
      await a.route(`**/api/rooms/${roomId}/messages`, async (route) => {
        if (route.request().method() !== "POST") return route.continue();
        bodies.push(JSON.parse(route.request().postData()!));
        // The first is lost on the way (had the server taken it, its event would have come).
        if (bodies.length === 1) return route.abort("connectionreset");
        await route.continue();
      });
      await send(a, SECRET.retried);
      const failed = a.locator(".msg-failed", { hasText: SECRET.retried });
      await failed.getByRole("button", { name: "Retry" }).click();
      await row(a, before + 1).getByText(SECRET.retried).waitFor(T);
      await a.unroute(`**/api/rooms/${roomId}/messages`);
      assert.equal(bodies.length, 2);
      assert.equal(bodies[1].clientId, bodies[0].clientId);
      assert.deepEqual(bodies[1].envelope, bodies[0].envelope);
      await row(b, before + 1).getByText(SECRET.retried).waitFor(T);
      assert.equal(
        (await call(h.direct, `/api/rooms/${roomId}`, { token: alice.token })).body.room.lastSeq,
        before + 1,
      );
    });

    await step("alice's second browser reads what her first one sends", async () => {
      const second = await h.browser.newContext({ viewport: { width: 1280, height: 800 } });
      await second.addCookies([{ name: "parley_session", value: alice.token, url: h.url }]);
      const a2 = await h.open(second, `/rooms/${roomId}`);
      await waitForDevices(h, alice.token, "alice", 3);
      // What was sent before this browser existed was never sealed for it: it says so.
      await row(a2, 2).locator(".msg-undecryptable").waitFor(T);
      // The first browser learns of the new device (a `devices` event) before it sends.
      await a.getByRole("button", { name: /^End-to-end encrypted.*safety number$/ }).click();
      await a.getByRole("heading", { name: "Your devices · 3" }).waitFor(T);
      await a.keyboard.press("Escape");
      // A device of her own she has not seen: she says it is hers before anything goes to it.
      const own = a.locator(".e2e-warning", { hasText: "Your devices changed" });
      await own.getByRole("button", { name: "OK" }).click();
      await own.waitFor({ state: "detached", ...T });
      await send(a, SECRET.second);
      await messageList(a2).getByText(SECRET.second).waitFor(T);
      await messageList(b).getByText(SECRET.second).waitFor(T);
      // And bob is told alice has a new device.
      await b.getByRole("alert").filter({ hasText: "alice's devices changed" }).waitFor(T);
      await second.close();

      // Alice retires the test's device from her list: no longer given keys, and no warning.
      await a.getByRole("button", { name: /^End-to-end encrypted.*safety number$/ }).click();
      a.once("dialog", (d) => d.accept());
      await a.getByRole("button", { name: "Retire test tool" }).click();
      await a.getByRole("heading", { name: "Your devices · 2" }).waitFor(T);
      await a.keyboard.press("Escape");
      const listed = await devicesOf(h, alice.token, "alice");
      assert.notEqual(listed.find((d) => d.name === "test tool")?.retiredAt, null);
      assert.equal(await a.locator(".e2e-warning").count(), 0);
    });

    await step("a resumed stream and a reload show envelopes decrypted", async () => {
      h.proxy.cut(1_500);
      await a.locator("html[data-status=reconnecting]").waitFor(T);
      // Bob's other device writes while alice's browser is cut off.
      const m = await postFrom(h, {
        token: bob.token,
        roomId,
        sender: bobDevice!,
        users: ["alice", "bob"],
        text: SECRET.resumed,
      });
      await a.locator("html[data-status=live]").waitFor(T);
      await row(a, m.seq).getByText(SECRET.resumed).waitFor(T);
      assert.equal(await messageList(a).getByText(SECRET.resumed).count(), 1);
      await b.reload();
      await b.locator("html[data-live]").waitFor(T);
      for (const text of [SECRET.edited, SECRET.reply, SECRET.held, SECRET.resumed]) {
        await messageList(b).getByText(text).waitFor(T);
      }
    });

    await step(
      "a device added while the stream was away past its replay window warns",
      async () => {
        h.proxy.cut(1_500);
        await a.locator("html[data-status=reconnecting]").waitFor(T);
        await publishDevice(h, bob.token, "bob's laptop");
        // The log is trimmed past it: the resume answers `reset`, the `devices` event is gone.
        while (await trimLog(h.kv, Date.now() + 1) === TRIM_BATCH);
        await a.locator("html[data-status=live]").waitFor(T);
        const warning = a.getByRole("alert").filter({
          hasText: "bob's devices changed — compare safety numbers",
        });
        await warning.waitFor(T);
        await warning.getByRole("button", { name: "OK" }).click();
        await warning.waitFor({ state: "detached", ...T });
      },
    );

    await step("files are encrypted before upload and decrypted to show", async () => {
      await a.locator(".composer input[type=file]").setInputFiles([
        { name: SECRET.fileName, mimeType: "text/plain", buffer: Buffer.from(SECRET.file) },
        { name: "pixel.png", mimeType: "image/png", buffer: PIXEL },
      ]);
      await a.locator(".upload-done").nth(1).waitFor(T);
      await send(a, "two files");
      const sent = messageList(b).locator("li.msg", { hasText: "two files" });
      await sent.getByRole("img", { name: "pixel.png" }).waitFor(T);
      // Shown from a blob: URL, which the page's policy allows for images.
      assert.match(
        (await sent.getByRole("img", { name: "pixel.png" }).getAttribute("src"))!,
        /^blob:/,
      );
      const [download] = await Promise.all([
        b.waitForEvent("download", T) as Promise<Download>,
        sent.getByRole("button", { name: new RegExp(SECRET.fileName) }).click(),
      ]);
      assert.equal(download.suggestedFilename(), SECRET.fileName);
      const path = await download.path();
      assert.equal(await Deno.readTextFile(path!), SECRET.file);
      // The server got ciphertext named "encrypted": not the bytes, not the name.
      const stored = await kvText(h.kv);
      assert.ok(!stored.includes(SECRET.file));
      assert.ok(!stored.includes(SECRET.fileName));
      assert.ok(!stored.includes("pixel.png"));
    });

    await step("either side switches encryption off (after asking) and on", async () => {
      b.once("dialog", (d) => d.accept());
      await b.getByRole("button", { name: "End-to-end encrypted: safety number" }).click();
      await b.getByRole("button", { name: "Turn off encryption" }).click();
      for (const [page, who] of [[a, "bob"], [b, "You"]] as const) {
        const off = page.locator(".notice-line", {
          hasText: `${who} turned off end-to-end encryption: the server can read new messages`,
        });
        await off.waitFor(T);
        // No lock on the notice that encryption is off.
        assert.equal(await off.locator(LOCK_PATH).count(), 0);
        await page.getByRole("button", { name: "Turn on end-to-end encryption" }).waitFor(T);
        await page.locator(`[data-room-id="${roomId}"] .room-lock`).waitFor({
          state: "detached",
          ...T,
        });
      }
      await send(b, "back in the clear");
      await messageList(a).getByText("back in the clear").waitFor(T);

      await a.getByRole("button", { name: "Turn on end-to-end encryption" }).click();
      for (const [page, who] of [[a, "You"], [b, "alice"]] as const) {
        const on = page.locator(".notice-line", {
          hasText: `${who} turned on end-to-end encryption`,
        });
        await on.waitFor(T);
        assert.equal(await on.locator(LOCK_PATH).count(), 1);
        await page.locator(`[data-room-id="${roomId}"] .room-lock`).waitFor(T);
      }
      // Bob accepts alice's new browser, and his own new devices, which waited for his OK.
      await b.locator(".e2e-warning", { hasText: "alice's devices changed" }).waitFor(T);
      await b.locator(".e2e-warning", { hasText: "Your devices changed" }).waitFor(T);
      await acceptWarnings(b);
      await send(b, "sealed again");
      await messageList(a).getByText("sealed again").waitFor(T);
      assert.equal(
        (await call(h.direct, `/api/rooms/${roomId}/messages?limit=1`, { token: bob.token }))
          .body.messages[0].text,
        "",
      );
    });

    await step(
      "a message sent encrypted never goes out in the clear after a switch-off",
      async () => {
        const offNotices = a.locator(".notice-line", {
          hasText: "bob turned off end-to-end encryption: the server can read new messages",
        });
        const bodies: { text?: string; envelope?: Envelope }[] = [];
        let onPost = (): Promise<void> => Promise.resolve();
        await a.route(`**/api/rooms/${roomId}/messages`, async (route) => {
          if (route.request().method() !== "POST") return route.continue();
          bodies.push(JSON.parse(route.request().postData()!));
          if (bodies.length === 1) return route.abort("connectionreset");
          await onPost();
          await route.continue();
        });
        // Lost on the way, sealed; bob turns encryption off before alice retries.
        await send(a, SECRET.offRetry);
        const failed = a.locator(".msg-failed", { hasText: SECRET.offRetry });
        await failed.getByRole("button", { name: "Retry" }).waitFor(T);
        const off = await call(h.direct, `/api/rooms/${roomId}/encryption`, {
          token: bob.token,
          method: "PUT",
          body: { encrypted: false },
        });
        assert.equal(off.status, 200, JSON.stringify(off.body));
        await offNotices.nth(1).waitFor(T);
        const seqOff = await lastSeq(h, alice.token, roomId);
        // The retry posts nothing: it says why, and asks.
        await failed.getByRole("button", { name: "Retry" }).click();
        await failed.getByText("bob turned encryption off — send again to send it unencrypted")
          .waitFor(T);
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.equal(bodies.length, 1);
        assert.equal(await lastSeq(h, alice.token, roomId), seqOff);
        // Only her say-so sends it as it now must go: unencrypted.
        await failed.getByRole("button", { name: "Send unencrypted" }).click();
        await row(b, seqOff + 1).getByText(SECRET.offRetry).waitFor(T);
        assert.equal(bodies.length, 2);
        assert.equal(bodies[1].text, SECRET.offRetry);

        // Sealed and on its way when bob switches off: the server refuses it, and it stays so.
        await a.getByRole("button", { name: "Turn on end-to-end encryption" }).click();
        await a.locator(`[data-room-id="${roomId}"] .room-lock`).waitFor(T);
        await a.getByRole("button", { name: "End-to-end encrypted: safety number" }).waitFor(T);
        onPost = async () => {
          onPost = () => Promise.resolve();
          const res = await call(h.direct, `/api/rooms/${roomId}/encryption`, {
            token: bob.token,
            method: "PUT",
            body: { encrypted: false },
          });
          assert.equal(res.status, 200);
          await offNotices.nth(2).waitFor(T);
        };
        const posted = bodies.length;
        await send(a, SECRET.offRefused);
        const refused = a.locator(".msg-failed", { hasText: SECRET.offRefused });
        await refused.getByText("bob turned encryption off — send again to send it unencrypted")
          .waitFor(T);
        const seqRefused = await lastSeq(h, alice.token, roomId);
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.equal(bodies.length, posted + 1);
        assert.ok(bodies[posted].envelope);
        assert.equal(await lastSeq(h, alice.token, roomId), seqRefused);
        await a.unroute(`**/api/rooms/${roomId}/messages`);
        await refused.getByRole("button", { name: "Discard" }).click();
        const stored = await kvText(h.kv);
        assert.ok(!stored.includes(SECRET.offRefused));
      },
    );

    await step(
      "a quote of an encrypted message not loaded says so, as the terminal does",
      async () => {
        // Fifty messages later, the first one (encrypted) is out of the loaded page.
        for (let i = 0; i < 50; i++) await say(h, bob.token, roomId, `filler ${i}`);
        const reply = await say(h, bob.token, roomId, "answering the very first", { replyTo: 1 });
        await a.reload();
        await a.locator("html[data-live]").waitFor(T);
        await row(a, reply.seq).waitFor(T);
        assert.equal(await row(a, 1).count(), 0);
        assert.equal(
          (await row(a, reply.seq).locator(".quote-text").textContent())?.trim(),
          "🔒 encrypted message",
        );
      },
    );

    // Nothing went wrong in the pages: no script error, no policy violation.
    const unexpected = h.errors.filter((e) => !e.includes("Failed to load resource"));
    assert.deepEqual(unexpected, []);
  },
});
