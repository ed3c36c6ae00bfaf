import assert from "node:assert/strict";
import { call, registerUser, serve, testApp } from "../helpers.ts";

function bootOf(html: string) {
  const json = html.match(/<script type="application\/json" id="boot">(.*?)<\/script>/s)?.[1];
  assert.ok(json, "the page carries its boot block");
  return JSON.parse(json);
}

async function page(url: string, token?: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    redirect: "manual",
    headers: token ? { cookie: `parley_session=${token}`, ...headers } : headers,
  });
  return { res, html: await res.text() };
}

Deno.test("[e2e] GET / and /rooms/:id without a session redirect to /login", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const home = await page(server.url + "/");
  assert.equal(home.res.status, 302);
  assert.equal(home.res.headers.get("location"), "/login");
  const room = await page(server.url + "/rooms/abc123");
  assert.equal(room.res.status, 302);
  assert.equal(room.res.headers.get("location"), "/login?next=%2Frooms%2Fabc123");
});

Deno.test("[e2e] GET /login renders the sign-in form on the server", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const { res, html } = await page(server.url + "/login?next=/rooms/abc123");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(res.headers.get("content-security-policy") ?? "", /script-src 'self'/);
  assert.match(html, /<label for="username">Username<\/label>/);
  assert.match(html, /<label for="password">Password<\/label>/);
  assert.match(html, /<button type="submit"[^>]*>Sign in<\/button>/);
  assert.deepEqual(bootOf(html), {
    user: null,
    rooms: [],
    roomId: null,
    auth: "login",
    next: "/rooms/abc123",
  });
  // The policy allows no inline script or style: every script is external or JSON data.
  for (const tag of html.match(/<script[^>]*>/g) ?? []) {
    assert.match(tag, /src="\/static\/app\.js"|type="application\/json"/, tag);
  }
  assert.doesNotMatch(html, /\sstyle=/);
  assert.doesNotMatch(html, /https?:\/\/(?!127\.0\.0\.1)/, "nothing from another origin");
});

Deno.test("[e2e] GET /login ignores a next that leaves the site", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  for (const next of ["//evil.example", "https://evil.example", "/\\evil.example"]) {
    const { html } = await page(`${server.url}/register?next=${encodeURIComponent(next)}`);
    assert.equal(bootOf(html).next, "/", next);
  }
  const user = await registerUser(server.url);
  const signedIn = await page(`${server.url}/login?next=//evil.example`, user.token);
  assert.equal(signedIn.res.status, 302);
  assert.equal(signedIn.res.headers.get("location"), "/");
});

Deno.test("[e2e] GET /rooms/:id renders the user's rooms and unread count on the server", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const ann = await registerUser(server.url);
  const ben = await registerUser(server.url);
  const name = "</script><b>bold</b>";
  const created = await call(server.url, "/api/rooms", { token: ben.token, body: { name } });
  const roomId = created.body.room.id;
  await call(server.url, `/api/rooms/${roomId}/join`, { token: ann.token, method: "POST" });
  await call(server.url, `/api/rooms/${roomId}/messages`, {
    token: ben.token,
    body: { text: "hello ann" },
  });

  const { res, html } = await page(`${server.url}/rooms/${roomId}`, ann.token);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cache-control"), "no-store");
  // Text is escaped: no tag can open inside it.
  const escaped = "&lt;/script>&lt;b>bold&lt;/b>";
  assert.ok(html.includes(`<title>(1) ${escaped} · Parley</title>`));
  // The sidebar is in the HTML already, the room name escaped, its unread badge shown.
  assert.match(html, new RegExp(`data-room-id="${roomId}"`));
  assert.ok(html.includes(`<span class="room-name">${escaped}</span>`));
  assert.ok(html.includes(`<h1 id="conv-title">${escaped}</h1>`));
  assert.doesNotMatch(html, /<b>/);
  assert.match(html, /<span class="badge" aria-label="1 unread">1<\/span>/);
  assert.ok(html.includes(`${ben.username}: hello ann`));
  // The boot block cannot be closed early by a room name.
  assert.equal(html.match(/<\/script>/g)?.length, 2);
  const boot = bootOf(html);
  assert.equal(boot.user.id, ann.id);
  assert.equal(boot.roomId, roomId);
  assert.equal(boot.rooms[0].name, name);
  assert.equal(boot.rooms[0].unread, 1);
});

Deno.test("[e2e] GET /rooms/:id with a malformed id is 404", async () => {
  await using t = await testApp();
  const user = await registerUser(t.app);
  const res = await t.app.request("/rooms/not%20an%20id", {
    headers: { cookie: `parley_session=${user.token}` },
  });
  assert.equal(res.status, 404);
  await res.body?.cancel();
});

Deno.test("[e2e] GET /login with a live session redirects home", async () => {
  await using t = await testApp();
  const user = await registerUser(t.app);
  const res = await t.app.request("/login", {
    headers: { cookie: `parley_session=${user.token}` },
  });
  assert.equal(res.status, 302);
  assert.equal(res.headers.get("location"), "/");
});

Deno.test("[e2e] GET /static/app.css is served with a type and revalidates by ETag", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const first = await fetch(server.url + "/static/app.css");
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("content-type"), "text/css; charset=utf-8");
  assert.equal(first.headers.get("cache-control"), "no-cache");
  assert.match(await first.text(), /\.sidebar/);
  const etag = first.headers.get("etag")!;
  const again = await fetch(server.url + "/static/app.css", { headers: { "if-none-match": etag } });
  assert.equal(again.status, 304);
  await again.body?.cancel();
  const icon = await fetch(server.url + "/static/favicon.svg");
  assert.equal(icon.headers.get("content-type"), "image/svg+xml");
  await icon.body?.cancel();
});

Deno.test("[e2e] GET /static/* serves nothing outside static/", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const paths = [
    "%2e%2e%2fdeno.json",
    "..%2fmain.ts",
    "nothing.css",
    ".hidden.css",
    "x.ts",
    "%E0%A4%A.css",
  ];
  for (const path of paths) {
    const res = await fetch(`${server.url}/static/${path}`);
    assert.equal(res.status, 404, path);
    await res.body?.cancel();
  }
});
