import assert from "node:assert/strict";
import { call, registerUser, serve, testApp } from "../helpers.ts";

Deno.test("[e2e] GET /api/health checks KV", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const res = await call(server.url, "/api/health");
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { status: "ok" });
});

Deno.test("GET /api/health answers 503 when KV is gone", async () => {
  const t = await testApp();
  await t.app.services.hub.ready;
  t.kv.close();
  const res = await call(t.app, "/api/health");
  assert.equal(res.status, 503);
  assert.equal(res.body.error.code, "unavailable");
  await t.app.close();
});

Deno.test("responses carry security headers", async () => {
  await using t = await testApp();
  // JSON answers may load nothing; pages only this origin's own resources.
  const cases = [["/api/health", "'none'"], ["/api/nothing-here", "'none'"], [
    "/api/docs",
    "'self'",
  ]];
  for (const [path, defaultSrc] of cases) {
    const res = await t.app.request(path);
    await res.body?.cancel();
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, new RegExp(`default-src ${defaultSrc}`), path);
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("x-frame-options"), "DENY");
  }
});

Deno.test("unknown routes get 404 in the error shape", async () => {
  await using t = await testApp();
  const res = await call(t.app, "/api/nothing-here");
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, "not_found");
});

Deno.test("an unexpected failure answers 500 without a stack trace", async () => {
  await using t = await testApp();
  t.app.hono.get("/api/test-crash", () => {
    throw new Error("secret internals at lib/whatever.ts:12");
  });
  const originalError = console.error;
  console.error = () => {};
  try {
    const res = await call(t.app, "/api/test-crash");
    assert.equal(res.status, 500);
    assert.deepEqual(res.body, {
      error: { code: "internal", message: "Something went wrong on the server." },
    });
  } finally {
    console.error = originalError;
  }
});

Deno.test("a POST with no body and no Content-Length is not taken for a non-JSON body", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const user = await registerUser(server.url);
  const port = Number(new URL(server.url).port);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(
    `POST /api/rooms/nope/join HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `Authorization: Bearer ${user.token}\r\nConnection: close\r\n\r\n`,
  ));
  let text = "";
  const buf = new Uint8Array(4096);
  for (let n; (n = await conn.read(buf)) !== null;) {
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  conn.close();
  assert.match(text, /^HTTP\/1\.1 404/);
  assert.match(text, /room_not_found/);
});
