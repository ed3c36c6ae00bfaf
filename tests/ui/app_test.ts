/**
 * The web app in real headless Chromium against a real Parley server.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { Download, Locator, Page, Route } from "playwright-core";
import { call } from "../helpers.ts";
import { parseLimit } from "../../lib/rate_limits.ts";
import { skipBrowser, startUi, type UiHarness } from "./browser.ts";
import { createRoomViaApi, messageList, say, send, T } from "./helpers.ts";

Deno.test({
  name: "[ui] the web app in Chromium",
  ignore: skipBrowser,
  async fn(t) {
    await using h = await startUi({ admins: ["root"] });

    await t.step("register, stay signed in across a reload, log out, log in", async () => {
      const context = await h.browser.newContext();
      const page = await context.newPage();
      await page.goto(h.url + "/");
      assert.match(page.url(), /\/login$/);
      await page.getByRole("link", { name: "Create an account" }).click();
      await page.locator("html[data-live]").waitFor(T);
      await page.getByLabel("Username").fill("ursula");
      await page.getByLabel("Password").fill("password-123");
      await page.getByRole("button", { name: "Create account" }).click();
      await page.getByRole("heading", { name: "Welcome, ursula" }).waitFor(T);
      await page.reload();
      await page.getByRole("heading", { name: "Welcome, ursula" }).waitFor(T);
      await page.getByRole("button", { name: "Log out" }).click();
      await page.waitForURL(/\/login$/, T);
      await page.locator("html[data-live]").waitFor(T);
      await page.getByLabel("Username").fill("ursula");
      await page.getByLabel("Password").fill("wrong-password");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("alert").filter({ hasText: "Wrong username or password" }).waitFor(T);
      await page.getByLabel("Password").fill("password-123");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("heading", { name: "Welcome, ursula" }).waitFor(T);
      await context.close();
    });

    await t.step("two users chat live in a room and in a direct conversation", async () => {
      const alice = await h.user("alice");
      const bob = await h.user("bob");
      const a = await h.open(alice.context);
      const b = await h.open(bob.context);

      // Alice creates a public room with the dialog; Bob finds and joins it.
      await a.getByRole("button", { name: "New room" }).click();
      await a.getByLabel("Room name").fill("lobby");
      await a.getByLabel("Capacity").fill("10");
      await a.getByRole("button", { name: "Create room" }).click();
      await a.waitForURL(/\/rooms\/[\w-]+$/, T);
      const roomPath = new URL(a.url()).pathname;
      await b.getByRole("button", { name: "Browse rooms" }).click();
      await b.getByRole("button", { name: "Join lobby" }).click();
      await b.waitForURL(h.url + roomPath, T);

      await send(a, "hello from alice");
      await messageList(b).getByText("hello from alice").waitFor(T);
      await send(b, "hi alice, bob here");
      await messageList(a).getByText("hi alice, bob here").waitFor(T);
      // Each message shows its author.
      const row = messageList(a).locator("li.msg", { hasText: "hi alice, bob here" });
      await row.locator(".msg-author", { hasText: "bob" }).waitFor(T);
      // Alice sees Bob in the member list.
      await a.locator(".members-panel").getByText("bob").waitFor(T);

      // Bob opens a direct conversation with one click from the online list.
      await b.getByRole("button", { name: "Message alice" }).first().click();
      await b.getByRole("heading", { name: "alice", exact: true }).waitFor(T);
      await send(b, "psst, a secret");
      const dm = a.locator(".room-item", { hasText: "psst, a secret" });
      await dm.locator(".badge", { hasText: "1" }).waitFor(T);
      await dm.click();
      await messageList(a).getByText("psst, a secret").waitFor(T);
      await send(a, "secret received");
      await messageList(b).getByText("secret received").waitFor(T);
      await alice.context.close();
      await bob.context.close();
    });

    await t.step(
      "a private room: create, invite, accept or decline live, join by id refused, leave",
      async () => {
        const olga = await h.user("olga");
        const pete = await h.user("pete");
        const quin = await h.user("quin");
        const o = await h.open(olga.context);
        const p = await h.open(pete.context);
        const q = await h.open(quin.context);
        await o.getByRole("button", { name: "New room" }).click();
        await o.getByLabel("Room name").fill("secret-plans");
        await o.getByLabel("Private: only people you invite").check();
        await o.getByLabel("Capacity").fill("3");
        await o.getByRole("button", { name: "Create room" }).click();
        await o.getByRole("heading", { name: "secret-plans" }).waitFor(T);
        await o.getByText("1 member · private").waitFor(T);
        const roomId = new URL(o.url()).pathname.split("/").pop()!;

        // Quin cannot join a private room by its id.
        await q.getByRole("button", { name: "Browse rooms" }).click();
        assert.equal(await q.getByRole("button", { name: "Join secret-plans" }).count(), 0);
        await q.getByLabel("Room id").fill(roomId);
        await q.getByRole("button", { name: "Join by id" }).click();
        await q.getByRole("alert").filter({ hasText: "private" }).waitFor(T);
        await q.keyboard.press("Escape");

        // Olga invites Pete; the invitation shows up in Pete's sidebar without a reload.
        await o.getByLabel("Invite someone").fill("pete");
        await o.getByRole("button", { name: "Invite", exact: true }).click();
        await o.locator(".members-panel").getByRole("status").filter({ hasText: "Invited pete" })
          .waitFor(T);
        const accept = p.getByRole("button", { name: "Accept the invitation to secret-plans" });
        await accept.waitFor(T);
        // Until he accepts he is not a member.
        await o.getByText("1 member · private").waitFor(T);
        assert.equal(await p.locator(`[data-room-id="${roomId}"]`).count(), 0);
        await accept.click();
        await p.getByRole("heading", { name: "secret-plans" }).waitFor(T);
        await p.locator(`[data-room-id="${roomId}"]`).waitFor(T);
        assert.equal(await p.locator(`[data-invite-room="${roomId}"]`).count(), 0);
        await o.locator(".member-list").getByText("pete").waitFor(T);
        await o.getByText("2 members · private").waitFor(T);
        await send(o, "welcome aboard, pete");
        await messageList(p).getByText("welcome aboard, pete").waitFor(T);

        // Quin is invited with the API and declines: he stays out.
        const invited = await call(h.url, `/api/rooms/${roomId}/members`, {
          token: olga.token,
          body: { username: "quin" },
        });
        assert.equal(invited.status, 201);
        await q.getByRole("button", { name: "Decline the invitation to secret-plans" }).click();
        await q.locator(`[data-invite-room="${roomId}"]`).waitFor({ state: "detached", ...T });
        assert.deepEqual((await call(h.url, "/api/invites", { token: quin.token })).body, {
          invitations: [],
        });
        assert.equal(await q.locator(`[data-room-id="${roomId}"]`).count(), 0);
        await o.getByText("2 members · private").waitFor(T);

        p.on("dialog", (d) => d.accept());
        await p.getByRole("button", { name: "Leave" }).click();
        await p.getByRole("heading", { name: "Welcome, pete" }).waitFor(T);
        assert.equal(await p.locator(`[data-room-id="${roomId}"]`).count(), 0);
        await o.getByText("1 member · private").waitFor(T);
        for (const u of [olga, pete, quin]) await u.context.close();
      },
    );

    await t.step(
      "blocking from the member menu stops direct messages and typing; unblock; leave a DM",
      async () => {
        const vic = await h.user("vic");
        const wes = await h.user("wes");
        const xan = await h.user("xan");
        const roomId = await createRoomViaApi(h, vic.token, "town-square");
        for (const u of [wes, xan]) {
          const joined = await call(h.url, `/api/rooms/${roomId}/join`, {
            token: u.token,
            method: "POST",
          });
          assert.equal(joined.status, 200);
        }
        const typing = async (token: string) => {
          const res = await call(h.url, `/api/rooms/${roomId}/typing`, { token, method: "POST" });
          assert.ok(res.status < 300, `typing answered ${res.status}`);
        };
        const v = await h.open(vic.context, `/rooms/${roomId}`);
        await v.locator(".member-list").getByText("wes").waitFor(T);
        await v.getByRole("button", { name: "Actions for wes" }).click();
        await v.getByRole("menuitem", { name: "Block" }).click();
        await v.getByRole("status").filter({ hasText: "Blocked wes" }).waitFor(T);
        await v.locator(".member", { hasText: "wes" }).locator(".tag", { hasText: "blocked" })
          .waitFor(T);

        // Wes cannot open a direct conversation with Vic, and his typing does not show.
        const refused = await call(h.url, "/api/direct/vic", { token: wes.token, method: "POST" });
        assert.equal(refused.status, 403);
        assert.equal(refused.body.error.code, "blocked");
        await typing(wes.token);
        await typing(xan.token);
        await v.locator(".typing", { hasText: "xan is typing…" }).waitFor(T);
        assert.equal(await v.locator(".typing").textContent(), "xan is typing…");

        // Unblocked from the people dialog, he can write to her again.
        await v.getByRole("button", { name: "New message" }).click();
        await v.getByRole("button", { name: "Unblock wes" }).click();
        await v.getByRole("button", { name: "Block wes" }).waitFor(T);
        await v.keyboard.press("Escape");
        assert.deepEqual((await call(h.url, "/api/me/blocks", { token: vic.token })).body, {
          blocks: [],
        });
        await typing(wes.token);
        await v.locator(".typing", { hasText: "wes" }).waitFor(T);
        const opened = await call(h.url, "/api/direct/vic", { token: wes.token, method: "POST" });
        assert.ok(opened.status < 300, `direct answered ${opened.status}`);
        const dmId = opened.body.room.id as string;
        await say(h, wes.token, dmId, "are we good?");

        // /block and /unblock in the composer.
        await send(v, "/block xan");
        await v.getByRole("status").filter({ hasText: "Blocked xan" }).waitFor(T);
        await v.getByRole("button", { name: "Actions for xan" }).click();
        await v.getByRole("menuitem", { name: "Unblock" }).waitFor(T);
        await v.keyboard.press("Escape");
        await send(v, "/unblock xan");
        await v.getByRole("status").filter({ hasText: "Unblocked xan" }).waitFor(T);
        assert.deepEqual((await call(h.url, "/api/me/blocks", { token: vic.token })).body, {
          blocks: [],
        });

        // A direct conversation is left from its header.
        await v.locator(`[data-room-id="${dmId}"]`).click();
        await messageList(v).getByText("are we good?").waitFor(T);
        v.on("dialog", (d) => d.accept());
        await v.getByRole("button", { name: "Leave conversation" }).click();
        await v.getByRole("heading", { name: "Welcome, vic" }).waitFor(T);
        assert.equal(await v.locator(`[data-room-id="${dmId}"]`).count(), 0);
        for (const u of [vic, wes, xan]) await u.context.close();
      },
    );

    await t.step(
      "the account menu: sessions, signing one out, password, presence",
      async () => {
        const yul = await h.user("yul");
        const login = await call(h.url, "/api/auth/login", {
          body: { username: "yul", password: "password-123" },
        });
        assert.equal(login.status, 200);
        const elsewhere = await h.browser.newContext();
        await elsewhere.addCookies([{
          name: "parley_session",
          value: login.body.token,
          url: h.url,
        }]);
        const mine = await h.open(yul.context);
        const theirs = await h.open(elsewhere);

        await mine.getByRole("button", { name: "Account settings" }).click();
        const dialog = mine.getByRole("dialog", { name: "Your account" });
        const sessions = dialog.locator(".session");
        await sessions.nth(1).waitFor(T);
        assert.equal(await sessions.count(), 2);
        assert.equal(await sessions.filter({ hasText: "this device" }).count(), 1);
        await sessions.filter({ hasNotText: "this device" }).getByRole("button", {
          name: /^Sign out/,
        }).click();
        await theirs.waitForURL(/\/login$/, T);
        await sessions.nth(1).waitFor({ state: "detached", ...T });
        assert.equal(await sessions.count(), 1);
        assert.equal((await call(h.url, "/api/me", { token: login.body.token })).status, 401);

        // A wrong current password is refused with a clear message; the right one works.
        await dialog.getByLabel("Current password").fill("not-my-password");
        await dialog.getByLabel("New password").fill("password-456");
        await dialog.getByRole("button", { name: "Change password" }).click();
        await dialog.getByRole("alert").filter({ hasText: "current password is not right" })
          .waitFor(T);
        await dialog.getByLabel("Current password").fill("password-123");
        assert.equal(await dialog.getByRole("alert").count(), 0, "editing clears the error");
        await dialog.getByRole("button", { name: "Change password" }).click();
        await dialog.getByRole("status").filter({ hasText: "Password changed" }).waitFor(T);
        const relogin = await call(h.url, "/api/auth/login", {
          body: { username: "yul", password: "password-456" },
        });
        assert.equal(relogin.status, 200);

        // Presence: contacts only.
        await dialog.getByLabel("Only people I share a room or conversation with").check();
        await dialog.getByRole("status").filter({ hasText: "Saved" }).waitFor(T);
        const me = await call(h.url, "/api/me", { token: yul.token });
        assert.equal(me.body.presenceVisibility, "contacts");
        await yul.context.close();
        await elsewhere.close();
      },
    );

    await t.step("a rate-limited send says when to try again, and a retry then works", async () => {
      await using limited = await startUi({
        browser: h.browser,
        rateLimits: { messages: parseLimit("1/s:3") },
      });
      const zed = await limited.user("zed");
      const roomId = await createRoomViaApi(limited, zed.token, "busy");
      const page = await limited.open(zed.context, `/rooms/${roomId}`);
      for (const text of ["one", "two", "three", "four"]) await send(page, text);
      const failed = page.locator(".msg-failed");
      await failed.getByRole("alert").filter({
        hasText: /^Too many messages — try again in \d+ s\./,
      }).waitFor(T);
      assert.equal(await failed.count(), 1);
      await page.waitForTimeout(1_100);
      await failed.getByRole("button", { name: "Retry" }).click();
      await page.locator(`li.msg[data-seq="4"]`).waitFor(T);
      assert.equal(await page.locator(".msg-pending").count(), 0);
      assert.deepEqual(
        (await page.locator("li.msg[data-seq] .msg-text").allTextContents()).sort(),
        ["four", "one", "three", "two"],
      );
      h.errors.push(...limited.errors);
    });

    await t.step("member events update the room without fetching it", async () => {
      const rita = await h.user("rita");
      const sam = await h.user("sam");
      const roomId = await createRoomViaApi(h, rita.token, "headcount");
      const r = await h.open(rita.context, `/rooms/${roomId}`);
      const subtitle = r.locator(".conv-sub");
      await subtitle.getByText("1 member · public").waitFor(T);
      const roomFetches: string[] = [];
      r.on("request", (req) => {
        const path = new URL(req.url()).pathname;
        if (req.method() === "GET" && path === `/api/rooms/${roomId}`) roomFetches.push(path);
      });
      const join = await call(h.url, `/api/rooms/${roomId}/join`, {
        token: sam.token,
        method: "POST",
      });
      assert.equal(join.status, 200);
      await subtitle.getByText("2 members · public").waitFor(T);
      const leave = await call(h.url, `/api/rooms/${roomId}/leave`, {
        token: sam.token,
        method: "POST",
      });
      assert.equal(leave.status, 204);
      await subtitle.getByText("1 member · public").waitFor(T);
      assert.deepEqual(roomFetches, [], "the counts came from the member events");
      for (const u of [rita, sam]) await u.context.close();
    });

    await t.step(
      "edit with the Up arrow, delete with confirmation, a moderator deletes; seen live",
      async () => {
        const amber = await h.user("amber");
        const basil = await h.user("basil");
        const roomId = await createRoomViaApi(h, amber.token, "drafts");
        await call(h.url, `/api/rooms/${roomId}/join`, { token: basil.token, method: "POST" });
        const a = await h.open(amber.context, `/rooms/${roomId}`);
        const b = await h.open(basil.context, `/rooms/${roomId}`);
        for (const page of [a, b]) page.on("dialog", (d) => d.accept());
        await send(a, "helo wrold");
        await messageList(b).getByText("helo wrold").waitFor(T);

        // Up in the empty composer edits the last message; Escape cancels, Enter saves.
        const composer = a.getByLabel("Message", { exact: true });
        const editor = a.getByLabel("Edit message");
        await composer.press("ArrowUp");
        assert.equal(await editor.inputValue(), "helo wrold");
        await editor.fill("never mind");
        await editor.press("Escape");
        await editor.waitFor({ state: "detached", ...T });
        await messageList(a).getByText("helo wrold").waitFor(T);
        await a.waitForFunction(() => document.activeElement?.ariaLabel === "Message", null, T);
        await composer.press("ArrowUp");
        await editor.fill("hello world");
        await editor.press("Enter");
        for (const page of [a, b]) {
          const row = messageList(page).locator(`li.msg[data-seq="1"]`);
          await row.locator(".msg-text", { hasText: "hello world" }).waitFor(T);
          await row.locator(".msg-edited", { hasText: "(edited)" }).waitFor(T);
          assert.equal(await messageList(page).getByText("helo wrold").count(), 0);
        }
        // The other side's sidebar preview has the new text too.
        await b.locator(`[data-room-id="${roomId}"]`, { hasText: "hello world" }).waitFor(T);

        // /edit replaces the last message as well.
        await send(b, "frist");
        await messageList(a).getByText("frist").waitFor(T);
        await send(b, "/edit first");
        await messageList(a).locator(`li.msg[data-seq="2"]`, { hasText: "first (edited)" })
          .waitFor(T);
        // A member may answer or react to someone else's message, not edit or delete it.
        const others = messageList(b).locator(`li.msg[data-seq="1"]`);
        await others.hover();
        await others.getByRole("button", { name: /^Options for amber’s message/ }).click();
        assert.deepEqual(await b.getByRole("menuitem").allTextContents(), [
          "Reply",
          "Add reaction",
        ]);
        await b.keyboard.press("Escape");

        // Deleting asks first, then both sides show the placeholder and no text.
        const own = messageList(a).locator(`li.msg[data-seq="1"]`);
        await own.hover();
        await own.getByRole("button", { name: /^Options for your message/ }).click();
        await a.getByRole("menuitem", { name: "Delete" }).click();
        for (const page of [a, b]) {
          const row = messageList(page).locator(`li.msg[data-seq="1"]`);
          await row.getByText("message deleted").waitFor(T);
          assert.equal(await messageList(page).getByText("hello world").count(), 0);
        }
        // The owner may delete someone else's message, not edit it.
        const theirs = messageList(a).locator(`li.msg[data-seq="2"]`);
        await theirs.hover();
        await theirs.getByRole("button", { name: /^Options for basil’s message/ }).click();
        assert.equal(await a.getByRole("menuitem", { name: "Edit" }).count(), 0);
        await a.getByRole("menuitem", { name: "Delete" }).click();
        for (const page of [a, b]) {
          await messageList(page).locator(`li.msg[data-seq="2"]`).getByText("message deleted")
            .waitFor(T);
        }
        // Nothing of mine left to edit: Up does nothing.
        await composer.press("ArrowUp");
        assert.equal(await editor.count(), 0);
        for (const u of [amber, basil]) await u.context.close();
      },
    );

    await t.step(
      "from the member list: roles, kick and ban with a reason, bans and the audit log",
      async () => {
        const cedric = await h.user("cedric");
        const dora = await h.user("dora");
        const roomId = await createRoomViaApi(h, cedric.token, "clubhouse");
        const join = () =>
          call(h.url, `/api/rooms/${roomId}/join`, { token: dora.token, method: "POST" });
        assert.equal((await join()).status, 200);
        const c = await h.open(cedric.context, `/rooms/${roomId}`);
        const d = await h.open(dora.context, `/rooms/${roomId}`);
        c.on("dialog", (dialog) => dialog.accept());
        const doraRow = c.locator(".member", { hasText: "dora" });
        await c.locator(".member", { hasText: "cedric" }).locator(".tag", { hasText: "owner" })
          .waitFor(T);

        // Make moderator, then back: the badge follows on both sides.
        await c.getByRole("button", { name: "Actions for dora" }).click();
        await c.getByRole("menuitem", { name: "Make moderator" }).click();
        await doraRow.locator(".tag", { hasText: "moderator" }).waitFor(T);
        await d.locator(".member", { hasText: "dora" }).locator(".tag", { hasText: "moderator" })
          .waitFor(T);
        await d.getByRole("status").filter({ hasText: "You are now a moderator of #clubhouse" })
          .waitFor(T);
        // A moderator cannot act on the owner.
        await d.getByRole("button", { name: "Actions for cedric" }).click();
        assert.equal(await d.getByRole("menuitem", { name: "Kick" }).count(), 0);
        await d.keyboard.press("Escape");
        await c.getByRole("button", { name: "Actions for dora" }).click();
        await c.getByRole("menuitem", { name: "Remove moderator" }).click();
        await doraRow.locator(".tag").waitFor({ state: "detached", ...T });

        // Kick, with the keyboard: she is told, and the room leaves her sidebar.
        await c.getByRole("button", { name: "Actions for dora" }).focus();
        await c.keyboard.press("Enter");
        await c.keyboard.press("End");
        await c.keyboard.press("ArrowUp");
        assert.equal(await c.evaluate(() => document.activeElement?.textContent), "Kick");
        await c.keyboard.press("Enter");
        await d.getByRole("alert").filter({ hasText: "You were removed from #clubhouse" })
          .waitFor(T);
        await d.locator(`[data-room-id="${roomId}"]`).waitFor({ state: "detached", ...T });
        await d.getByRole("heading", { name: "Welcome, dora" }).waitFor(T);
        await doraRow.waitFor({ state: "detached", ...T });

        // She may rejoin; then a ban with a reason, until lifted.
        assert.equal((await join()).status, 200);
        await d.goto(`${h.url}/rooms/${roomId}`);
        await d.locator("html[data-live]").waitFor(T);
        await doraRow.waitFor(T);
        await c.getByRole("button", { name: "Actions for dora" }).click();
        await c.getByRole("menuitem", { name: "Ban…" }).click();
        const dialog = c.getByRole("dialog", { name: "Ban dora" });
        await dialog.getByLabel("Reason (optional)").fill("spamming the lobby");
        await dialog.getByLabel("Until the ban is lifted").check();
        await dialog.getByRole("button", { name: "Ban dora" }).click();
        await dialog.waitFor({ state: "detached", ...T });
        await d.getByRole("alert").filter({
          hasText: "You were banned from #clubhouse: spamming the lobby",
        }).waitFor(T);
        await d.locator(`[data-room-id="${roomId}"]`).waitFor({ state: "detached", ...T });
        assert.equal((await join()).body.error.code, "banned");

        // The bans list lifts it.
        await c.getByRole("button", { name: "Bans" }).click();
        const bans = c.getByRole("dialog", { name: "Bans in #clubhouse" });
        await bans.locator("[data-ban-user=dora]", { hasText: "spamming the lobby" }).waitFor(T);
        await bans.getByRole("button", { name: "Unban dora" }).click();
        await bans.getByText("No one is banned from #clubhouse.").waitFor(T);
        await c.keyboard.press("Escape");
        assert.equal((await join()).status, 200);

        // The audit log has it all, newest first.
        await c.getByRole("button", { name: "Audit log" }).click();
        const log = c.getByRole("dialog", { name: "Audit log of #clubhouse" });
        const what = log.locator(".audit .pick-text > :first-child");
        await what.first().waitFor(T);
        assert.deepEqual(
          await what.allTextContents(),
          [
            "cedric lifted the ban on dora",
            "cedric banned dora",
            "cedric removed dora",
            "cedric made dora a member",
            "cedric made dora a moderator",
          ],
        );
        await log.getByText("Reason: spamming the lobby").waitFor(T);
        for (const u of [cedric, dora]) await u.context.close();
      },
    );

    await t.step("an administrator suspends and lifts from the admin page", async () => {
      const root = await h.user("root");
      const eli = await h.user("eli");
      const e = await h.open(eli.context);
      const r = await h.open(root.context);
      await r.getByRole("button", { name: /Account and administration/ }).click();
      await r.getByRole("button", { name: "Administration", exact: true }).click();
      const admin = r.getByRole("dialog", { name: "Administration" });
      const row = admin.locator("[data-account=eli]");
      await row.getByText("last seen").waitFor(T);
      await admin.getByRole("button", { name: "Suspend eli" }).click();
      await admin.getByLabel("Why suspend eli").fill("abusive messages");
      await row.getByRole("button", { name: "Suspend", exact: true }).click();
      await row.locator(".tag", { hasText: "suspended" }).waitFor(T);
      await admin.locator(".audit", { hasText: "root suspended eli" })
        .getByText("Reason: abusive messages").waitFor(T);
      // Her sessions end: her page goes to sign-in, and signing in is refused.
      await e.waitForURL(/\/login$/, T);
      const login = await call(h.url, "/api/auth/login", {
        body: { username: "eli", password: "password-123" },
      });
      assert.equal(login.body.error.code, "suspended");
      await admin.getByRole("button", { name: "Lift the suspension of eli" }).click();
      await row.locator(".tag", { hasText: "suspended" }).waitFor({ state: "detached", ...T });
      await admin.locator(".audit").first().getByText("root lifted the suspension of eli")
        .waitFor(T);
      const again = await call(h.url, "/api/auth/login", {
        body: { username: "eli", password: "password-123" },
      });
      assert.equal(again.status, 200);
      for (const u of [root, eli]) await u.context.close();
    });

    await t.step("a deleted room is gone from its members' pages, with a notice", async () => {
      const faye = await h.user("faye");
      const gil = await h.user("gil");
      const roomId = await createRoomViaApi(h, faye.token, "short-lived");
      await call(h.url, `/api/rooms/${roomId}/join`, { token: gil.token, method: "POST" });
      const f = await h.open(faye.context, `/rooms/${roomId}`);
      const g = await h.open(gil.context, `/rooms/${roomId}`);
      f.on("dialog", (d) => d.accept());
      await g.locator(".members-panel").getByText("faye").waitFor(T);
      // Only the owner (or an administrator) is offered it.
      assert.equal(await g.getByRole("button", { name: "Delete room" }).count(), 0);
      await f.getByRole("button", { name: "Delete room" }).click();
      for (const page of [f, g]) {
        await page.getByRole("status").filter({ hasText: "#short-lived was deleted" }).waitFor(T);
        await page.locator(`[data-room-id="${roomId}"]`).waitFor({ state: "detached", ...T });
      }
      for (const u of [faye, gil]) await u.context.close();
    });

    await t.step("unread badges show after being away and clear in the other tab", async () => {
      const carol = await h.user("carol");
      const dave = await h.user("dave");
      const roomId = await createRoomViaApi(h, dave.token, "standup");
      const joined = await call(h.url, `/api/rooms/${roomId}/join`, {
        token: carol.token,
        method: "POST",
      });
      assert.equal(joined.status, 200);
      const tab1 = await h.open(carol.context);
      const tab2 = await h.open(carol.context);
      for (const text of ["one", "two", "three"]) await say(h, dave.token, roomId, text);
      for (const tab of [tab1, tab2]) {
        await tab.locator(`[data-room-id="${roomId}"] .badge`, { hasText: "3" }).waitFor(T);
        await tab.waitForFunction(() => document.title.startsWith("(3)"), null, T);
      }
      await tab1.locator(`[data-room-id="${roomId}"]`).click();
      await messageList(tab1).getByText("three").waitFor(T);
      await tab1.locator(".divider").waitFor(T);
      await tab2.locator(`[data-room-id="${roomId}"] .badge`).waitFor({ state: "detached", ...T });
      await tab2.waitForFunction(() => document.title === "Parley", null, T);
      await carol.context.close();
      await dave.context.close();
    });

    await t.step("a reload keeps the conversation and its history", async () => {
      const erin = await h.user("erin");
      const roomId = await createRoomViaApi(h, erin.token, "notes");
      for (let i = 1; i <= 60; i++) await say(h, erin.token, roomId, `note ${i}`);
      const page = await h.open(erin.context, `/rooms/${roomId}`);
      await messageList(page).getByText("note 60").waitFor(T);
      await page.reload();
      await page.locator("html[data-live]").waitFor(T);
      assert.equal(new URL(page.url()).pathname, `/rooms/${roomId}`);
      await messageList(page).getByText("note 60", { exact: true }).waitFor(T);
      // Scrolling to the top loads the older history.
      assert.equal(await messageList(page).getByText("note 1", { exact: true }).count(), 0);
      await page.locator(".scroller").evaluate((el) => el.scrollTop = 0);
      await messageList(page).getByText("note 1", { exact: true }).waitFor(T);
      await erin.context.close();
    });

    await t.step("eight tabs of one user all receive a new message over one stream", async () => {
      const fay = await h.user("fay");
      const gus = await h.user("gus");
      const roomId = await createRoomViaApi(h, gus.token, "crowd");
      await call(h.url, `/api/rooms/${roomId}/join`, { token: fay.token, method: "POST" });
      const streams: string[] = [];
      fay.context.on(
        "request",
        (r) => void (r.url().includes("/api/events") && streams.push(r.url())),
      );
      const tabs: Page[] = [];
      for (let i = 0; i < 8; i++) tabs.push(await h.open(fay.context, `/rooms/${roomId}`));
      assert.equal(streams.length, 1, "the eight tabs share one stream");
      await say(h, gus.token, roomId, "can all eight of you hear me?");
      await Promise.all(
        tabs.map((tab) => messageList(tab).getByText("can all eight of you hear me?").waitFor(T)),
      );
      // When the leading tab closes, another takes over the stream and nothing is lost.
      await tabs[0].close();
      await say(h, gus.token, roomId, "still there?");
      await Promise.all(
        tabs.slice(1).map((tab) => messageList(tab).getByText("still there?").waitFor(T)),
      );
      await fay.context.close();
      await gus.context.close();
    });

    await t.step("markup in a message stays inert text; links are safe", async () => {
      const hal = await h.user("hal");
      const roomId = await createRoomViaApi(h, hal.token, "xss");
      const page = await h.open(hal.context, `/rooms/${roomId}`);
      const payload = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;
      await send(page, payload);
      await messageList(page).getByText(payload).waitFor(T);
      await page.reload();
      await messageList(page).getByText(payload).waitFor(T);
      assert.equal(await page.locator("ol.messages img").count(), 0);
      assert.equal(await page.locator("ol.messages script").count(), 0);
      assert.equal(await page.evaluate(() => (window as { __pwned?: number }).__pwned), undefined);

      await send(page, "docs at https://example.com/a?b=1. and javascript:alert(1)");
      const link = messageList(page).getByRole("link", { name: "https://example.com/a?b=1" });
      await link.waitFor(T);
      assert.equal(await link.getAttribute("href"), "https://example.com/a?b=1");
      assert.equal(await link.getAttribute("rel"), "noopener noreferrer");
      assert.equal(await link.getAttribute("target"), "_blank");
      assert.equal(await messageList(page).locator("a").count(), 1);
      await hal.context.close();
    });

    await t.step(
      "a message the server did not take is marked failed and can be retried",
      async () => {
        const ivy = await h.user("ivy");
        const roomId = await createRoomViaApi(h, ivy.token, "flaky");
        const page = await h.open(ivy.context, `/rooms/${roomId}`);
        await page.route(
          "**/api/rooms/*/messages",
          (route) => route.request().method() === "POST" ? route.abort() : route.continue(),
        );
        await send(page, "will this arrive?");
        await page.locator(".msg-failed", { hasText: "will this arrive?" }).waitFor(T);
        await page.unroute("**/api/rooms/*/messages");
        await page.getByRole("button", { name: "Retry" }).click();
        await page.locator(`li.msg[data-seq="1"]`, { hasText: "will this arrive?" }).waitFor(T);
        assert.equal(await page.locator(".msg-pending").count(), 0);
        await ivy.context.close();
      },
    );

    await t.step("slash commands, typing and Shift+Enter", async () => {
      const jan = await h.user("jan");
      const kim = await h.user("kim");
      const a = await h.open(jan.context);
      const b = await h.open(kim.context);
      // /create from home has no composer: use the API room to get one, then commands.
      const roomId = await createRoomViaApi(h, jan.token, "cmds");
      await a.goto(`${h.url}/rooms/${roomId}`);
      await a.locator("html[data-live]").waitFor(T);
      await send(a, "/create planning");
      await a.getByRole("heading", { name: "planning" }).waitFor(T);
      await b.goto(`${h.url}/rooms/${roomId}`);
      await b.getByRole("button", { name: "Join room" }).click();
      await b.getByRole("heading", { name: "cmds" }).waitFor(T);
      await send(b, "/join planning");
      await b.getByRole("heading", { name: "planning" }).waitFor(T);
      // Typing shows on the other side.
      await a.getByLabel("Message", { exact: true }).pressSequentially("hel");
      await b.getByText("jan is typing…").waitFor(T);
      // Shift+Enter adds a line; Enter sends both lines as one message.
      await a.getByLabel("Message", { exact: true }).press("Shift+Enter");
      await a.getByLabel("Message", { exact: true }).pressSequentially("lo");
      await a.getByLabel("Message", { exact: true }).press("Enter");
      await messageList(b).locator(".msg-text", { hasText: "hel\nlo" }).waitFor(T);
      await send(b, "/help");
      await b.getByText("/dm <user> [text]", { exact: false }).first().waitFor(T);
      await send(b, "/dm jan over here");
      await b.getByRole("heading", { name: "jan", exact: true }).waitFor(T);
      await a.locator(".room-item", { hasText: "over here" }).waitFor(T);
      await send(b, "/nonsense");
      await b.getByRole("alert").filter({ hasText: "Unknown command /nonsense" }).waitFor(T);
      await send(b, "/switch planning");
      await send(b, "/leave");
      await b.getByRole("heading", { name: "Welcome, kim" }).waitFor(T);
      assert.equal(await b.locator(".room-item", { hasText: "planning" }).count(), 0);
      await jan.context.close();
      await kim.context.close();
    });

    await t.step("after a network drop it shows reconnecting and catches up", async () => {
      const mia = await h.user("mia");
      const ned = await h.user("ned");
      const roomId = await createRoomViaApi(h, ned.token, "outage");
      await call(h.url, `/api/rooms/${roomId}/join`, { token: mia.token, method: "POST" });
      await say(h, ned.token, roomId, "before the drop");
      const page = await h.open(mia.context, `/rooms/${roomId}`);
      await messageList(page).getByText("before the drop").waitFor(T);
      h.proxy.cut(1_500);
      await page.locator("html[data-status=reconnecting]").waitFor(T);
      await page.getByRole("status").filter({ hasText: "Reconnecting" }).waitFor(T);
      // Sent while the browser is cut off, straight to the server.
      for (const text of ["during the drop 1", "during the drop 2"]) {
        const res = await call(h.direct, `/api/rooms/${roomId}/messages`, {
          token: ned.token,
          body: { text },
        });
        assert.equal(res.status, 201);
      }
      await page.locator("html[data-status=live]").waitFor(T);
      for (const text of ["during the drop 1", "during the drop 2"]) {
        await messageList(page).getByText(text).waitFor(T);
        assert.equal(await messageList(page).getByText(text).count(), 1, "exactly once");
      }
      await say(h, ned.token, roomId, "after the drop");
      await messageList(page).getByText("after the drop").waitFor(T);
      assert.deepEqual(
        await page.locator("li.msg").evaluateAll((els) =>
          els.map((e) => e.getAttribute("data-seq"))
        ),
        ["1", "2", "3", "4"],
      );
      await mia.context.close();
      await ned.context.close();
    });

    await t.step("signing out in one tab, or the session ending, signs out every tab", async () => {
      const rae = await h.user("rae");
      const tabs = [await h.open(rae.context), await h.open(rae.context)];
      await tabs[1].getByRole("button", { name: "Log out" }).click();
      await Promise.all(tabs.map((tab) => tab.waitForURL(/\/login$/, T)));

      const sid = await h.user("sid");
      const page = await h.open(sid.context);
      const out = await call(h.direct, "/api/auth/logout", { token: sid.token, method: "POST" });
      assert.equal(out.status, 204);
      h.proxy.cut(100); // the stream reconnects, is refused with 401, and the app notices
      await page.waitForURL(/\/login$/, T);
      await rae.context.close();
      await sid.context.close();
    });

    await t.step("it works with the keyboard alone", async () => {
      const tom = await h.user("tom");
      const page = await h.open(tom.context);
      await page.keyboard.press("Tab");
      assert.equal(
        await page.evaluate(() => document.activeElement?.textContent),
        "Skip to conversation",
      );
      await page.getByRole("button", { name: "New room" }).focus();
      await page.keyboard.press("Enter");
      await page.getByRole("dialog").waitFor(T);
      await page.keyboard.press("Escape");
      await page.getByRole("dialog").waitFor({ state: "detached", ...T });
      await page.waitForFunction(
        () => document.activeElement?.getAttribute("aria-label") === "New room",
        null,
        T,
      );
      await page.keyboard.press("Enter");
      // Focus starts in the first field; Enter submits the form.
      await page.keyboard.type("keys-only");
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { name: "keys-only" }).waitFor(T);
      // The composer has focus once the conversation opens.
      await page.keyboard.type("typed without a mouse");
      await page.keyboard.press("Enter");
      await messageList(page).getByText("typed without a mouse").waitFor(T);
      await tom.context.close();
    });

    await t.step("no sideways scrolling at 390 and 1440 px", async () => {
      const lee = await h.user("lee");
      const roomId = await createRoomViaApi(h, lee.token, "a-room-with-a-rather-long-name-indeed");
      await say(h, lee.token, roomId, "x".repeat(300) + " https://example.com/" + "y".repeat(200));
      for (const width of [390, 1440]) {
        const page = await h.open(lee.context, `/rooms/${roomId}`);
        await page.setViewportSize({ width, height: 800 });
        await messageList(page).locator("li.msg").first().waitFor(T);
        const overflow = await page.evaluate(() =>
          document.documentElement.scrollWidth - document.documentElement.clientWidth
        );
        assert.equal(overflow, 0, `sideways overflow at ${width}px`);
        await page.close();
      }
      await lee.context.close();
    });

    // Failed requests are expected above (aborted sends, a cut network, a 403 probe); a
    // script error or a Content-Security-Policy violation is not.
    const unexpected = h.errors.filter((e) => !e.includes("Failed to load resource"));
    assert.deepEqual(unexpected, []);
  },
});

/** A PNG of `width` × `height` pixels, one colour. */
async function png(width: number, height: number): Promise<Buffer> {
  const row = width * 3 + 1;
  const pixels = new Uint8Array(row * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) pixels.set([68, 81, 214], y * row + 1 + x * 3);
  }
  const deflated = new Uint8Array(
    await new Response(new Blob([pixels]).stream().pipeThrough(new CompressionStream("deflate")))
      .arrayBuffer(),
  );
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    out.set(new TextEncoder().encode(type), 4);
    out.set(data, 8);
    view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const header = new Uint8Array(13);
  new DataView(header.buffer).setUint32(0, width);
  new DataView(header.buffer).setUint32(4, height);
  header.set([8, 2], 8); // 8 bits, RGB
  return Buffer.concat([
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    chunk("IHDR", header),
    chunk("IDAT", deflated),
    chunk("IEND", new Uint8Array()),
  ]);
}

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** Uploads a file with the API, as `curl -F file=@name` does. */
async function uploadViaApi(
  h: UiHarness,
  token: string,
  roomId: string,
  file: File,
): Promise<{ id: string; contentType: string }> {
  const form = new FormData();
  form.append("file", file);
  const res = await fetch(`${h.url}/api/rooms/${roomId}/attachments`, {
    method: "POST",
    body: form,
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(res.status, 201);
  return (await res.json()).attachment;
}

function fileInput(page: Page) {
  return page.locator(".composer input[type=file]");
}

/** A file of `size` bytes for `setInputFiles`. */
function blob(name: string, size: number, mimeType = "application/octet-stream") {
  return { name, mimeType, buffer: Buffer.alloc(size, 7) };
}

/**
 * Holds a page's requests for attachments until `release()`, so an image's
 * box can be measured before it loads.
 */
async function holdAttachments(page: Page) {
  const held: Route[] = [];
  let holding = true;
  await page.route("**/api/attachments/*", (route) => {
    if (holding) held.push(route);
    else route.continue();
  });
  return {
    /** Waits until the page has asked for a file. */
    async asked() {
      for (let waited = 0; !held.length; waited += 50) {
        if (waited > T.timeout) throw new Error("the page never asked for the file");
        await page.waitForTimeout(50);
      }
    },
    async release() {
      holding = false;
      for (const route of held.splice(0)) await route.continue();
      await page.unroute("**/api/attachments/*");
    },
  };
}

/**
 * An image preview's box before its bytes arrive and after they load: the
 * same, `width` × `height` (give or take its border), so nothing moves.
 */
async function assertSteadyPreview(
  hold: Awaited<ReturnType<typeof holdAttachments>>,
  image: Locator,
  size: { width: number; height: number; naturalWidth: number },
) {
  await image.waitFor(T);
  await hold.asked();
  const loaded = (el: HTMLImageElement) => el.complete && el.naturalWidth > 0;
  assert.equal(await image.evaluate(loaded), false, "not loaded yet");
  const before = (await image.boundingBox())!;
  assert.equal(before.width, size.width);
  assert.ok(Math.abs(before.height - size.height) <= 2, `height ${before.height}`);
  await hold.release();
  await image.evaluate((el: HTMLImageElement) => el.decode());
  assert.equal(await image.evaluate((el: HTMLImageElement) => el.naturalWidth), size.naturalWidth);
  assert.deepEqual(await image.boundingBox(), before, "the box did not move when it loaded");
}

Deno.test({
  name: "[ui] files: attach, paste, previews, progress, cancel, limits, sandboxed downloads",
  ignore: skipBrowser,
  async fn(t) {
    await using h = await startUi();

    await t.step(
      "attached with the button and pasted: previews sized before they load, a chip for a file",
      async () => {
        const nora = await h.user("nora");
        const otto = await h.user("otto");
        const roomId = await createRoomViaApi(h, nora.token, "gallery");
        await call(h.url, `/api/rooms/${roomId}/join`, { token: otto.token, method: "POST" });
        const n = await h.open(nora.context, `/rooms/${roomId}`);
        const o = await h.open(otto.context, `/rooms/${roomId}`);

        // The button opens the (hidden) file input, which takes several files.
        await n.getByRole("button", { name: "Attach files" }).waitFor(T);
        assert.equal(await fileInput(n).getAttribute("multiple"), "");
        await fileInput(n).setInputFiles([
          { name: "wide.png", mimeType: "image/png", buffer: await png(800, 400) },
          blob("notes.pdf", 3 * 1024 + 100, "application/pdf"),
        ]);
        const tray = n.getByRole("list", { name: "Files to send" });
        await tray.locator(".upload-done").nth(1).waitFor(T);
        let hold = await holdAttachments(o);
        await send(n, "the plan, and a picture");
        await tray.waitFor({ state: "detached", ...T });

        // Otto sees the picture in a 360 × 180 box before and after it loads.
        const row = messageList(o).locator("li.msg", { hasText: "the plan, and a picture" });
        const image = row.getByRole("img", { name: "wide.png" });
        await assertSteadyPreview(hold, image, { width: 360, height: 180, naturalWidth: 800 });
        const full = row.getByRole("link", { name: "wide.png" });
        assert.match((await full.getAttribute("href"))!, /^\/api\/attachments\/[\w-]+$/);
        assert.equal(await full.getAttribute("target"), "_blank");
        // The other file is a chip: name, size, a download.
        const chip = row.getByRole("link", { name: "Download notes.pdf 3.1 KB" });
        await chip.waitFor(T);
        assert.equal(await chip.getAttribute("download"), "notes.pdf");
        const got = await fetch(h.url + (await chip.getAttribute("href"))!, {
          headers: { authorization: `Bearer ${otto.token}` },
        });
        assert.equal((await got.arrayBuffer()).byteLength, 3 * 1024 + 100);

        // An image pasted into the composer goes with an empty text.
        const composer = n.getByLabel("Message", { exact: true });
        await composer.focus();
        await n.evaluate(async () => {
          const canvas = document.createElement("canvas");
          canvas.width = 300;
          canvas.height = 600;
          const g = canvas.getContext("2d")!;
          g.fillStyle = "#e8590c";
          g.fillRect(0, 0, 300, 600);
          const png = await new Promise<Blob>((done) =>
            canvas.toBlob((b) => done(b!), "image/png")
          );
          const data = new DataTransfer();
          data.items.add(new File([png], "pasted.png", { type: "image/png" }));
          const paste = new ClipboardEvent("paste", {
            clipboardData: data,
            bubbles: true,
            cancelable: true,
          });
          document.activeElement!.dispatchEvent(paste);
        });
        await tray.locator(".upload-done", { hasText: "pasted.png" }).waitFor(T);
        assert.equal(await composer.inputValue(), "", "a pasted file is not text");
        hold = await holdAttachments(o);
        await composer.press("Enter");
        const pasted = messageList(o).locator(`li.msg[data-seq="2"]`).getByRole("img", {
          name: "pasted.png",
        });
        await assertSteadyPreview(hold, pasted, { width: 180, height: 360, naturalWidth: 300 });
        assert.equal(await messageList(o).locator(`li.msg[data-seq="2"] .msg-text`).count(), 0);
        await o.locator(`[data-room-id="${roomId}"]`, { hasText: "nora: pasted.png" }).waitFor(T);
        await messageList(n).getByRole("img", { name: "pasted.png" }).waitFor(T);

        // A deleted message shows no files.
        const deleted = await call(h.url, `/api/rooms/${roomId}/messages/1`, {
          token: nora.token,
          method: "DELETE",
        });
        assert.equal(deleted.status, 204);
        const first = messageList(o).locator(`li.msg[data-seq="1"]`);
        await first.getByText("message deleted").waitFor(T);
        assert.equal(await first.locator(".attachments").count(), 0);
        assert.equal(await messageList(o).getByRole("img", { name: "wide.png" }).count(), 0);
        for (const u of [nora, otto]) await u.context.close();
      },
    );

    await t.step(
      "a large upload shows its progress; cancelled, nothing is sent; a message waits for it",
      async () => {
        const pia = await h.user("pia");
        const roomId = await createRoomViaApi(h, pia.token, "big-files");
        const page = await h.open(pia.context, `/rooms/${roomId}`);
        const sends: string[] = [];
        page.on("request", (r) => {
          if (r.method() === "POST" && r.url().endsWith("/messages")) sends.push(r.url());
        });
        // 2 MB/s up: an 8 MB file takes four seconds.
        const cdp = await pia.context.newCDPSession(page);
        await cdp.send("Network.enable");
        const throttle = (up: number) =>
          cdp.send("Network.emulateNetworkConditions", {
            offline: false,
            latency: 0,
            downloadThroughput: -1,
            uploadThroughput: up,
          });
        await throttle(2 * 1024 * 1024);
        const big = blob("big.bin", 8 * 1024 * 1024);
        const bar = page.getByRole("progressbar", { name: "Uploading big.bin" });
        const sendButton = page.getByRole("button", { name: "Send" });

        await fileInput(page).setInputFiles(big);
        await bar.waitFor(T);
        assert.equal(await bar.getAttribute("aria-valuemax"), "100");
        await page.waitForFunction(
          () => Number(document.querySelector("[role=progressbar]")?.ariaValueNow) > 0,
          null,
          T,
        );
        assert.ok(Number(await bar.getAttribute("aria-valuenow")) < 100, "still on its way");
        assert.equal(await sendButton.isEnabled(), true);
        await page.getByRole("button", { name: "Cancel uploading big.bin" }).click();
        await bar.waitFor({ state: "detached", ...T });
        assert.equal(await page.locator(".upload").count(), 0);
        assert.equal(await sendButton.isEnabled(), false);
        await page.waitForTimeout(300);
        const me = await call(h.url, "/api/me", { token: pia.token });
        assert.equal(me.body.storage.used, 0, "nothing stored");

        // Sent while its file is on the way: the message waits, with the bar; cancelling
        // the file of a message with no text drops the message.
        await fileInput(page).setInputFiles(big);
        await bar.waitFor(T);
        await page.getByLabel("Message", { exact: true }).press("Enter");
        const waiting = page.locator(".msg-pending");
        await waiting.getByText("Uploading…").waitFor(T);
        await waiting.getByRole("progressbar", { name: "Uploading big.bin" }).waitFor(T);
        await waiting.getByRole("button", { name: "Cancel uploading big.bin" }).click();
        await waiting.waitFor({ state: "detached", ...T });

        // With text, it is sent once the file is stored.
        await fileInput(page).setInputFiles(big);
        await send(page, "here it comes");
        await waiting.getByRole("progressbar", { name: "Uploading big.bin" }).waitFor(T);
        assert.deepEqual(sends, [], "nothing sent while a file is on its way");
        await throttle(-1);
        const row = page.locator(`li.msg[data-seq="1"]`, { hasText: "here it comes" });
        await row.getByRole("link", { name: "Download big.bin 8 MB" }).waitFor(T);
        assert.equal(await page.locator(".msg-pending").count(), 0);
        assert.equal(sends.length, 1);
        assert.equal(await page.locator("li.msg[data-seq]").count(), 1);
        await pia.context.close();
      },
    );

    await t.step("a send that failed is retried without uploading the file again", async () => {
      const quill = await h.user("quill");
      const roomId = await createRoomViaApi(h, quill.token, "patchy");
      const page = await h.open(quill.context, `/rooms/${roomId}`);
      const uploads: string[] = [];
      page.on("request", (r) => {
        if (r.method() === "POST" && r.url().endsWith("/attachments")) uploads.push(r.url());
      });
      await page.route(
        "**/api/rooms/*/messages",
        (route) => route.request().method() === "POST" ? route.abort() : route.continue(),
      );
      // Dropped onto the conversation this time.
      const dropped = await page.evaluateHandle(() => {
        const data = new DataTransfer();
        data.items.add(new File(["x".repeat(2048)], "report.txt", { type: "text/plain" }));
        return data;
      });
      const messages = page.locator(".scroller");
      await messages.dispatchEvent("dragenter", { dataTransfer: dropped });
      await page.getByText("Drop files to send to #patchy").waitFor(T);
      await messages.dispatchEvent("drop", { dataTransfer: dropped });
      await page.getByText("Drop files to send to #patchy").waitFor({ state: "detached", ...T });
      await page.locator(".composer .upload-done", { hasText: "report.txt" }).waitFor(T);
      await send(page, "see attached");
      const failed = page.locator(".msg-failed", { hasText: "see attached" });
      await failed.getByRole("alert").waitFor(T);
      await page.unroute("**/api/rooms/*/messages");
      await failed.getByRole("button", { name: "Retry" }).click();
      const row = page.locator(`li.msg[data-seq="1"]`, { hasText: "see attached" });
      await row.getByRole("link", { name: "Download report.txt 2 KB" }).waitFor(T);
      assert.equal(uploads.length, 1, "uploaded once");
      await quill.context.close();
    });

    await t.step("too large, over quota, too many: the server's reason; storage used", async () => {
      await using limited = await startUi({
        browser: h.browser,
        rateLimits: { uploads: parseLimit("1/h:3") },
        config: { maxUploadBytes: 1024 * 1024, uploadQuotaBytes: 2 * 1024 * 1024 },
      });
      const rex = await limited.user("rex");
      const roomId = await createRoomViaApi(limited, rex.token, "tight");
      const page = await limited.open(rex.context, `/rooms/${roomId}`);
      const tray = page.getByRole("list", { name: "Files to send" });
      const mb = 1024 * 1024;
      await fileInput(page).setInputFiles(blob("huge.bin", 1.5 * mb));
      await tray.getByRole("alert").filter({
        hasText: "huge.bin is too large: a file may be at most 1 MB.",
      }).waitFor(T);
      // No use trying that one again; a refused file does not go with the message.
      assert.equal(await tray.getByRole("button", { name: /^Retry/ }).count(), 0);
      assert.equal(await page.getByRole("button", { name: "Send" }).isEnabled(), false);
      await tray.getByRole("button", { name: "Remove huge.bin" }).click();
      await tray.waitFor({ state: "detached", ...T });

      await fileInput(page).setInputFiles([blob("a.bin", 0.9 * mb), blob("b.bin", 0.9 * mb)]);
      await tray.locator(".upload-done").nth(1).waitFor(T);
      await fileInput(page).setInputFiles(blob("c.bin", 0.9 * mb));
      await tray.getByRole("alert").filter({
        hasText: "No room for c.bin: your files may take 2 MB in all.",
      }).waitFor(T);
      await fileInput(page).setInputFiles(blob("d.bin", 1000));
      await tray.getByRole("alert").filter({
        hasText: /^d\.bin was not sent\. Too many uploads — try again in \d+ min\.$/,
      }).waitFor(T);
      // The stored two still go; the refused stay, with their reasons.
      await send(page, "two of four");
      const row = page.locator(`li.msg[data-seq="1"]`, { hasText: "two of four" });
      await row.locator(".file-chip").nth(1).waitFor(T);
      assert.equal(await row.locator(".file-chip").count(), 2);
      assert.equal(await tray.getByRole("alert").count(), 2);

      await page.getByRole("button", { name: "Account settings" }).click();
      const dialog = page.getByRole("dialog", { name: "Your account" });
      await dialog.getByText("1.8 MB of 2 MB used by your files").waitFor(T);
      await rex.context.close();
      h.errors.push(...limited.errors);
    });

    await t.step(
      "an uploaded HTML or SVG file never runs: opened, it downloads; shown, it is sandboxed",
      async () => {
        const vera = await h.user("vera");
        const roomId = await createRoomViaApi(h, vera.token, "quarantine");
        const script = "document.title='pwned';window.ran=1;fetch('/api/me')";
        const files = {
          html: new File(
            [
              `<!doctype html><title>evil</title><script>${script}</script>` +
              `<img src=x onerror="${script}">`,
            ],
            "evil.html",
            { type: "text/html" },
          ),
          svg: new File(
            [
              `<svg xmlns="http://www.w3.org/2000/svg" onload="${script}">` +
              `<script>${script}</script></svg>`,
            ],
            "evil.svg",
            { type: "image/svg+xml" },
          ),
          // Markup that says it is a PNG.
          fake: new File([`<html><script>${script}</script></html>`], "fake.png", {
            type: "image/png",
          }),
        };
        const html = await uploadViaApi(h, vera.token, roomId, files.html);
        const svg = await uploadViaApi(h, vera.token, roomId, files.svg);
        const fake = await uploadViaApi(h, vera.token, roomId, files.fake);
        const sent = await call(h.url, `/api/rooms/${roomId}/messages`, {
          token: vera.token,
          body: { text: "open me", attachments: [html.id, svg.id, fake.id] },
        });
        assert.equal(sent.status, 201);

        // In the conversation they are chips to download; nothing is rendered.
        const page = await h.open(vera.context, `/rooms/${roomId}`);
        const row = messageList(page).locator("li.msg", { hasText: "open me" });
        for (const name of ["evil.html", "evil.svg", "fake.png"]) {
          const chip = row.getByRole("link", { name: new RegExp(`^Download ${name}`) });
          await chip.waitFor(T);
          assert.equal(await chip.getAttribute("download"), name);
        }
        assert.equal(await messageList(page).locator("img").count(), 0);

        const opened = async (path: string) => {
          const tab = await vera.context.newPage();
          const calls: string[] = [];
          tab.on("request", (r) => void (r.url().includes("/api/me") && calls.push(r.url())));
          let download: Download | null = null;
          tab.on("download", (d) => download = d);
          // A download is not a page: goto fails for it.
          const response = await tab.goto(h.url + path).catch(() => null);
          // Time for a script, had one run, to be seen.
          await tab.waitForTimeout(300);
          // In a sandbox without scripts the page may not even be evaluated: that is a pass.
          const seen = await tab.evaluate(() => ({
            title: document.title,
            ran: (window as { ran?: number }).ran,
            origin: self.origin,
            type: document.contentType,
          })).catch(() => null);
          return { tab, calls, download: download as Download | null, response, seen };
        };

        // A control: served plainly, the same page runs, and the probe sees it.
        const body = await files.html.text();
        await vera.context.route(
          "**/control.html",
          (r) => r.fulfill({ contentType: "text/html", body }),
        );
        const control = await opened("/control.html");
        assert.equal(control.seen?.title, "pwned");
        assert.equal(control.seen?.ran, 1);
        assert.ok(control.calls.length > 0);
        await control.tab.close();

        // The HTML and the SVG download, under their names; nothing of them runs.
        for (const [file, stored] of [[files.html, html], [files.svg, svg]] as const) {
          const res = await fetch(`${h.url}/api/attachments/${stored.id}`, {
            headers: { authorization: `Bearer ${vera.token}` },
          });
          assert.equal(res.headers.get("content-type"), "application/octet-stream");
          assert.match(res.headers.get("content-disposition")!, /^attachment;/);
          assert.equal(res.headers.get("content-security-policy"), "sandbox");
          assert.equal(res.headers.get("x-content-type-options"), "nosniff");
          assert.equal(await res.text(), await file.text());

          const { tab, calls, download, seen } = await opened(`/api/attachments/${stored.id}`);
          assert.ok(download, `${file.name} is downloaded, not shown`);
          assert.equal(download.suggestedFilename(), file.name);
          assert.notEqual(seen?.title, "pwned");
          assert.equal(seen?.ran, undefined);
          assert.deepEqual(calls, [], "no request from its script");
          await tab.close();
        }

        // Markup sent as a PNG is shown as an image (a broken one), in a sandbox.
        const { tab, calls, download, response, seen } = await opened(
          `/api/attachments/${fake.id}`,
        );
        assert.equal(download, null);
        assert.equal(response?.headers()["content-type"], "image/png");
        assert.equal(response?.headers()["content-security-policy"], "sandbox");
        assert.notEqual(seen?.title, "pwned");
        assert.equal(seen?.ran, undefined);
        if (seen) {
          assert.equal(seen.type, "image/png");
          assert.equal(seen.origin, "null", "an opaque origin: not Parley's");
        }
        assert.deepEqual(calls, []);
        await tab.close();
        await vera.context.close();
      },
    );

    const unexpected = h.errors.filter((e) => !e.includes("Failed to load resource"));
    assert.deepEqual(unexpected, []);
  },
});
