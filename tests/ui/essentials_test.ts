/**
 * Conversation essentials in real headless Chromium against a real Parley
 * server: replies and jumping to the original, reactions seen live by
 * another user, mention autocomplete and badges, muting, and browser
 * notifications while the page is hidden.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { BrowserContext, Locator, Page } from "playwright-core";
import { call } from "../helpers.ts";
import { skipBrowser, startUi } from "./browser.ts";
import { createRoomViaApi, joinViaApi, messageList, say, send, T } from "./helpers.ts";

/** A message's row, by its text. */
function row(page: Page, text: string): Locator {
  return messageList(page).locator("li.msg", { hasText: text });
}

/** Opens the options menu of a message (by its text or its row) and picks `item`. */
async function fromMenu(page: Page, message: string | Locator, item: string) {
  const r = typeof message === "string" ? row(page, message) : message;
  await r.hover();
  await r.getByRole("button", { name: /^Options for/ }).click();
  await page.getByRole("menuitem", { name: item }).click();
}

/** Whether an element is wholly inside the message list's visible area. */
function inView(page: Page, selector: string): Promise<boolean> {
  return page.evaluate((sel) => {
    const el = document.querySelector(sel);
    const box = document.querySelector(".scroller")!.getBoundingClientRect();
    if (!el) return false;
    const r = el.getBoundingClientRect();
    return r.top >= box.top && r.bottom <= box.bottom;
  }, selector);
}

/** A reaction chip of a message. */
function chip(page: Page, text: string, emoji: string): Locator {
  return row(page, text).locator(".reaction", { hasText: emoji });
}

async function chipIs(c: Locator, count: number, pressed: boolean) {
  await c.locator(".reaction-count", { hasText: new RegExp(`^${count}$`) }).waitFor(T);
  assert.equal(await c.getAttribute("aria-pressed"), String(pressed));
}

/** What the init script below records of each notification. */
interface Shown {
  title: string;
  body: string;
  tag: string;
  renotify: boolean;
}

/**
 * Records every `new Notification(…)` of the page in `window.__shown` (the
 * real constructor still runs), and every permission request in
 * `window.__asked`, answered "denied" when `deny` (as a user who says no).
 */
async function recordNotifications(context: BrowserContext, deny: boolean) {
  await context.addInitScript((deny: boolean) => {
    const w = globalThis as unknown as {
      __shown: unknown[];
      __instances: Notification[];
      __asked: number;
    };
    const Real = globalThis.Notification;
    w.__shown = [];
    w.__instances = [];
    w.__asked = 0;
    class Recording extends Real {
      constructor(title: string, options: NotificationOptions & { renotify?: boolean } = {}) {
        super(title, options);
        w.__shown.push({
          title,
          body: options.body,
          tag: options.tag,
          renotify: options.renotify ?? false,
        });
        w.__instances.push(this);
      }
    }
    const real = Real.requestPermission.bind(Real);
    Recording.requestPermission = () => {
      w.__asked++;
      return deny ? Promise.resolve("denied") : real();
    };
    globalThis.Notification = Recording;
  }, deny);
}

function shown(page: Page): Promise<Shown[]> {
  return page.evaluate(() => (globalThis as unknown as { __shown: Shown[] }).__shown);
}

function asked(page: Page): Promise<number> {
  return page.evaluate(() => (globalThis as unknown as { __asked: number }).__asked);
}

/** Waits until the page has shown `n` notifications in all. */
async function shownCount(page: Page, n: number) {
  await page.waitForFunction(
    (n) => (globalThis as unknown as { __shown: unknown[] }).__shown.length === n,
    n,
    T,
  );
}

/**
 * Hides or shows the page as switching tabs does: headless Chromium keeps
 * every page visible, so `visibilityState` is overridden and the event sent.
 */
async function setHidden(page: Page, hidden: boolean) {
  await page.evaluate((hidden) => {
    const state = hidden ? "hidden" : "visible";
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

Deno.test({
  name: "[ui] replies, reactions, mentions and notifications",
  ignore: skipBrowser,
  async fn(t) {
    await using h = await startUi();

    await t.step(
      "reply from the menu; a quote jumps to its original, loading older history",
      async () => {
        const kate = await h.user("kate");
        const leo = await h.user("leo");
        const roomId = await createRoomViaApi(h, kate.token, "history-lesson");
        await say(h, kate.token, roomId, "the original question");
        for (let i = 1; i <= 70; i++) await say(h, kate.token, roomId, `filler ${i}`);
        await joinViaApi(h, leo.token, roomId);
        const k = await h.open(kate.context, `/rooms/${roomId}`);
        const l = await h.open(leo.context, `/rooms/${roomId}`);
        await row(l, "filler 70").waitFor(T);
        // Only the latest page is loaded: the original is not.
        assert.equal(await l.locator(`li.msg[data-seq="1"]`).count(), 0);

        // A reply sent elsewhere arrives live with its quote.
        await say(h, kate.token, roomId, "see my first message", { replyTo: 1 });
        const quote = row(l, "see my first message").getByRole("button", {
          name: "In reply to kate the original question",
        });
        await quote.waitFor(T);
        assert.equal(await quote.getAttribute("title"), "Show the original message");

        // Clicking it loads the older history and brings the original into view, flashed.
        await quote.click();
        await l.locator(`li.msg.msg-flash[data-seq="1"]`).waitFor(T);
        assert.ok(await inView(l, `li.msg[data-seq="1"]`), "the original is in view");
        await l.waitForFunction(() => document.activeElement?.getAttribute("data-seq") === "1");
        await l.locator(`li.msg-flash`).waitFor({ state: "detached", ...T });

        // Leo answers it from its menu: the quote shows above the composer, Escape cancels.
        const original = l.locator(`li.msg[data-seq="1"]`);
        await fromMenu(l, original, "Reply");
        const bar = l.locator(".reply-bar");
        await bar.getByText("the original question").waitFor(T);
        await bar.locator("strong", { hasText: "kate" }).waitFor(T);
        const composer = l.getByLabel("Message", { exact: true });
        await l.waitForFunction(() => document.activeElement?.matches(".composer-input"));
        assert.equal(await composer.getAttribute("aria-describedby"), "reply-bar-text");
        await composer.press("Escape");
        await bar.waitFor({ state: "detached", ...T });
        // Again, and the cancel button works too; then again, and send.
        await fromMenu(l, original, "Reply");
        await l.getByRole("button", { name: "Cancel reply" }).click();
        await bar.waitFor({ state: "detached", ...T });
        await fromMenu(l, original, "Reply");
        await bar.waitFor(T);
        await send(l, "my answer");
        await bar.waitFor({ state: "detached", ...T });
        const answer = l.locator(`li.msg:not(.msg-pending)`, { hasText: "my answer" });
        await answer.locator(".quote", { hasText: "the original question" }).waitFor(T);
        // Sending brought the view down to the new message.
        const seq = await answer.getAttribute("data-seq");
        assert.equal(seq, "73");
        assert.ok(await inView(l, `li.msg[data-seq="73"]`), "the answer is in view");

        // Kate sees it live, quote and all; her click loads her older history too.
        const there = row(k, "my answer").locator(".quote", { hasText: "the original question" });
        await there.waitFor(T);
        assert.equal(await k.locator(`li.msg[data-seq="1"]`).count(), 0);
        await there.click();
        await k.locator(`li.msg.msg-flash[data-seq="1"]`).waitFor(T);
        assert.ok(await inView(k, `li.msg[data-seq="1"]`));

        // The original deleted, the quotes say so.
        const gone = await call(h.url, `/api/rooms/${roomId}/messages/1`, {
          token: kate.token,
          method: "DELETE",
        });
        assert.equal(gone.status, 204);
        await row(l, "my answer").locator(".quote", { hasText: "message deleted" }).waitFor(T);
        await row(k, "see my first message").locator(".quote", { hasText: "message deleted" })
          .waitFor(T);
        await kate.context.close();
        await leo.context.close();
      },
    );

    await t.step("reactions: added and taken back by two users, each seeing it live", async () => {
      const mona = await h.user("mona");
      const nico = await h.user("nico");
      const roomId = await createRoomViaApi(h, mona.token, "reactions");
      await joinViaApi(h, nico.token, roomId);
      await say(h, mona.token, roomId, "react to this");
      const m = await h.open(mona.context, `/rooms/${roomId}`);
      const n = await h.open(nico.context, `/rooms/${roomId}`);
      await row(n, "react to this").waitFor(T);

      // Nico, with the keyboard: the picker opens on its first emoji; Right, Enter.
      await fromMenu(n, "react to this", "Add reaction");
      const picker = n.getByRole("menu", { name: "Add a reaction" });
      await picker.waitFor(T);
      const items = picker.getByRole("menuitemcheckbox");
      assert.equal(await items.count(), 8);
      await n.waitForFunction(() =>
        document.activeElement?.getAttribute("aria-label") === "thumbs up"
      );
      await n.keyboard.press("ArrowRight");
      await n.keyboard.press("Enter");
      await picker.waitFor({ state: "detached", ...T });
      // Focus is back on the message's menu button.
      await n.waitForFunction(() =>
        document.activeElement?.getAttribute("aria-label")?.startsWith("Options for") ?? false
      );
      await chipIs(chip(n, "react to this", "❤️"), 1, true);
      await chipIs(chip(m, "react to this", "❤️"), 1, false);

      // Mona joins in with a click on the chip; both see two.
      await chip(m, "react to this", "❤️").click();
      await chipIs(chip(m, "react to this", "❤️"), 2, true);
      await chipIs(chip(n, "react to this", "❤️"), 2, true);

      // Nico takes his back.
      await chip(n, "react to this", "❤️").click();
      await chipIs(chip(n, "react to this", "❤️"), 1, false);
      await chipIs(chip(m, "react to this", "❤️"), 1, true);

      // Escape closes the picker without reacting.
      await fromMenu(n, "react to this", "Add reaction");
      await picker.waitFor(T);
      await n.keyboard.press("Escape");
      await picker.waitFor({ state: "detached", ...T });
      // Mona adds 👍 from the picker with the mouse; the picker marks hers.
      await fromMenu(m, "react to this", "Add reaction");
      await m.getByRole("menuitemcheckbox", { name: "thumbs up" }).click();
      await chipIs(chip(n, "react to this", "👍"), 1, false);
      await chipIs(chip(m, "react to this", "👍"), 1, true);
      await fromMenu(m, "react to this", "Add reaction");
      assert.equal(
        await m.getByRole("menuitemcheckbox", { name: "thumbs up" }).getAttribute("aria-checked"),
        "true",
      );
      await m.keyboard.press("Escape");

      // After a reload, history says which are hers.
      await m.reload();
      await m.locator("html[data-live]").waitFor(T);
      await chipIs(chip(m, "react to this", "❤️"), 1, true);
      await chipIs(chip(m, "react to this", "👍"), 1, true);

      // Mona takes both back: the chips go from both pages.
      await chip(m, "react to this", "❤️").click();
      await chip(m, "react to this", "👍").click();
      for (const page of [m, n]) {
        await row(page, "react to this").locator(".reaction").first().waitFor({
          state: "detached",
          ...T,
        });
      }
      await mona.context.close();
      await nico.context.close();
    });

    await t.step(
      "mention autocomplete: @ri, pick with the keyboard; the mention is counted and marked",
      async () => {
        const sam = await h.user("sam");
        const rita = await h.user("rita");
        const riley = await h.user("riley");
        const roomId = await createRoomViaApi(h, sam.token, "plans");
        for (const u of [rita, riley]) await joinViaApi(h, u.token, roomId);
        const s = await h.open(sam.context, `/rooms/${roomId}`);
        const r = await h.open(rita.context);
        await s.locator(".member-list").getByText("riley").waitFor(T);

        const composer = s.getByLabel("Message", { exact: true });
        await composer.pressSequentially("lunch? @ri");
        const list = s.getByRole("listbox", { name: "People to mention" });
        await list.waitFor(T);
        // Sam is a member too, but no one mentions themselves.
        const options = list.getByRole("option");
        assert.deepEqual(await options.evaluateAll((els) => els.map((e) => e.id)), [
          `mention-${riley.id}`,
          `mention-${rita.id}`,
        ]);
        await list.getByRole("option", { name: "rita", exact: true }).waitFor(T);
        assert.equal(await composer.getAttribute("aria-controls"), "mention-list");
        assert.equal(await composer.getAttribute("aria-autocomplete"), "list");
        const active = () => composer.getAttribute("aria-activedescendant");
        assert.equal(await active(), `mention-${riley.id}`);
        await composer.press("ArrowDown");
        assert.equal(await active(), `mention-${rita.id}`);
        assert.equal(
          await list.getByRole("option", { name: "rita" }).getAttribute("aria-selected"),
          "true",
        );
        await composer.press("ArrowDown");
        assert.equal(await active(), `mention-${riley.id}`, "it wraps around");
        await composer.press("ArrowUp");
        await composer.press("Enter");
        await list.waitFor({ state: "detached", ...T });
        assert.equal(await composer.inputValue(), "lunch? @rita ");
        assert.equal(await composer.getAttribute("aria-activedescendant"), null);

        // Escape closes the list and leaves the text, until more is typed; Tab picks.
        await composer.pressSequentially("and @ri");
        await list.waitFor(T);
        await composer.press("Escape");
        await list.waitFor({ state: "detached", ...T });
        assert.equal(await composer.inputValue(), "lunch? @rita and @ri");
        await composer.press("l");
        await list.waitFor(T);
        assert.equal(await options.count(), 1);
        await composer.press("Tab");
        assert.equal(await composer.inputValue(), "lunch? @rita and @riley ");
        await composer.press("Enter");
        const sent = row(s, "lunch?");
        await sent.locator(".mention", { hasText: "@rita" }).waitFor(T);
        await sent.locator(".mention", { hasText: "@riley" }).waitFor(T);

        // The message mentions them both, as the server saw it.
        const history = await call(h.url, `/api/rooms/${roomId}/messages`, { token: sam.token });
        const last = history.body.messages.at(-1);
        assert.equal(last.text, "lunch? @rita and @riley");
        assert.deepEqual([...last.mentions].sort(), [rita.id, riley.id].sort());

        // Rita's room list shows the mention beside the unread count.
        const item = r.locator(`[data-room-id="${roomId}"]`);
        await item.locator(".badge-mention").waitFor(T);
        assert.equal(await item.locator(".badge-mention").getAttribute("aria-label"), "1 mention");
        assert.equal(await item.locator(".badge-mention").textContent(), "@");
        await item.locator(`.badge[aria-label="1 unread"]`).waitFor(T);
        // Opened, her mention is marked and the badges clear.
        await item.click();
        const mine = row(r, "lunch?");
        await mine.locator(".mention-me", { hasText: "@rita" }).waitFor(T);
        assert.match((await mine.getAttribute("class"))!, /\bmsg-mention\b/);
        assert.equal(await mine.locator(".mention:not(.mention-me)").textContent(), "@riley");
        await item.locator(".badge").first().waitFor({ state: "detached", ...T });
        for (const u of [sam, rita, riley]) await u.context.close();
      },
    );

    await t.step(
      "notifications while hidden: a mention, a direct message; not muted, blocked or visible",
      async () => {
        const tara = await h.user("tara");
        const uri = await h.user("uri");
        const vex = await h.user("vex");
        await tara.context.grantPermissions(["notifications"], { origin: h.url });
        await recordNotifications(tara.context, false);
        await recordNotifications(uri.context, true);
        const roomId = await createRoomViaApi(h, uri.token, "ops");
        for (const u of [tara, vex]) await joinViaApi(h, u.token, roomId);
        const blocked = await call(h.url, "/api/me/blocks", {
          token: tara.token,
          body: { username: "vex" },
        });
        assert.equal(blocked.status, 201);
        const direct = await call(h.url, "/api/direct/tara", { token: uri.token, method: "POST" });
        const directId = direct.body.room.id as string;

        // Uri is asked once, after his first message: not on load, not again.
        const u = await h.open(uri.context, `/rooms/${roomId}`);
        assert.equal(await asked(u), 0);
        await send(u, "morning all");
        await row(u, "morning all").waitFor(T);
        assert.equal(await asked(u), 1);
        await send(u, "anyone?");
        await row(u, "anyone?").waitFor(T);
        await u.reload();
        await u.locator("html[data-live]").waitFor(T);
        await send(u, "still here");
        await row(u, "still here").waitFor(T);
        // (The count starts again with the page.)
        assert.equal(await asked(u), 0, "not asked again after a reload");
        // He may still ask for them from his account dialog.
        await u.getByRole("button", { name: /Account settings/ }).click();
        await u.getByRole("button", { name: "Enable notifications" }).click();
        assert.equal(await asked(u), 1);
        await u.keyboard.press("Escape");

        // Tara's page, at home, goes to the background.
        const p = await h.open(tara.context);
        await setHidden(p, true);
        await say(h, uri.token, roomId, "@tara can you check the build?");
        await shownCount(p, 1);
        assert.deepEqual((await shown(p))[0], {
          title: "uri in #ops",
          body: "@tara can you check the build?",
          tag: roomId,
          renotify: true,
        });
        // No mention, no notification; a second mention replaces the first (same tag).
        await say(h, uri.token, roomId, "nothing for tara here");
        await say(h, uri.token, roomId, "@tara ping again");
        await shownCount(p, 2);
        const [first, second] = await shown(p);
        assert.equal(second.tag, first.tag);
        assert.equal(second.body, "@tara ping again");
        assert.equal(second.renotify, true);

        // Nothing from a blocked user; a direct message notifies, under its own tag.
        await say(h, vex.token, roomId, "@tara it is vex");
        await say(h, uri.token, directId, "a quiet word");
        await shownCount(p, 3);
        assert.deepEqual((await shown(p))[2], {
          title: "uri",
          body: "a quiet word",
          tag: directId,
          renotify: true,
        });

        // Muted (on another device): the room dims, counts unread, and says nothing.
        const muted = await call(h.url, `/api/rooms/${roomId}/settings`, {
          token: tara.token,
          method: "PUT",
          body: { muted: true },
        });
        assert.equal(muted.status, 200);
        const item = p.locator(`[data-room-id="${roomId}"]`);
        await p.locator(`.room-item.muted-room[data-room-id="${roomId}"]`).waitFor(T);
        await say(h, uri.token, roomId, "@tara are you muted?");
        const listed = await call(h.url, "/api/rooms", { token: tara.token });
        const mentions = listed.body.rooms.find((r: { id: string }) => r.id === roomId).mentions;
        assert.ok(mentions >= 3);
        await item.locator(`.badge-mention[aria-label="${mentions} mentions"]`).waitFor(T);
        await say(h, uri.token, directId, "one more word");
        await shownCount(p, 4);
        assert.equal((await shown(p))[3].tag, directId);

        // Visible again: nothing shows.
        await setHidden(p, false);
        await say(h, uri.token, directId, "you are back");
        await p.locator(`[data-room-id="${directId}"]`, { hasText: "you are back" }).waitFor(T);
        await p.waitForTimeout(200);
        assert.equal((await shown(p)).length, 4);

        // A click on a notification brings the page forward on that conversation.
        await p.evaluate(() =>
          (globalThis as unknown as { __instances: Notification[] }).__instances[3]
            .dispatchEvent(new Event("click"))
        );
        await p.waitForURL(`${h.url}/rooms/${directId}`, T);
        await p.getByRole("heading", { name: "uri", exact: true }).waitFor(T);

        // Unmuted from the conversation header, where it says muted.
        await p.locator(`[data-room-id="${roomId}"]`).click();
        await p.getByText("3 members · public · muted").waitFor(T);
        await p.getByRole("button", { name: "Unmute" }).click();
        await p.getByRole("button", { name: "Mute", exact: true }).waitFor(T);
        await p.locator(`.room-item.muted-room[data-room-id="${roomId}"]`).waitFor({
          state: "detached",
          ...T,
        });
        const rooms = await call(h.url, "/api/rooms", { token: tara.token });
        assert.equal(rooms.body.rooms.find((r: { id: string }) => r.id === roomId).muted, false);
        for (const user of [tara, uri, vex]) await user.context.close();
      },
    );

    const unexpected = h.errors.filter((e) => !e.includes("Failed to load resource"));
    assert.deepEqual(unexpected, []);
  },
});
