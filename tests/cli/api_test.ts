import assert from "node:assert/strict";
import { Api, ApiFailure, networkReason, sendWithRetry, Unreachable } from "../../cli/api.ts";
import type { Message } from "../../shared/api_types.ts";
import { registerUser, serve, testApp } from "../helpers.ts";
import { freePort } from "./harness.ts";

Deno.test("sendWithRetry() retries a lost answer with the same clientId: one message", async () => {
  await using t = await testApp();
  const clientIds: string[] = [];
  let answered = 0;
  await using server = serve(async (req, info) => {
    const isSend = req.method === "POST" && new URL(req.url).pathname.endsWith("/messages");
    if (isSend) clientIds.push((await req.clone().json()).clientId);
    const res = await t.app.fetch(req, info);
    if (isSend && answered++ === 0) {
      // The message is stored, but the answer is late: the client times out first.
      await res.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, 400));
      return new Response(null, { status: 504 });
    }
    return res;
  });
  const user = await registerUser(server.url);
  const api = new Api(server.url);
  api.token = user.token;
  const room = await api.createRoom("retry", {});
  const retries: number[] = [];
  const message = await sendWithRetry(api, room.id, "only once", {
    attemptTimeoutMs: 150,
    onRetry: (n) => retries.push(n),
  });
  assert.equal(message.text, "only once");
  assert.deepEqual(retries, [1]);
  assert.equal(clientIds.length, 2);
  assert.equal(clientIds[0], clientIds[1]);
  const { messages } = await api.request<{ messages: Message[] }>(
    "GET",
    `/api/rooms/${room.id}/messages`,
  );
  assert.deepEqual(messages.map((m) => m.text), ["only once"]);
  // Let the late handler finish before the server stops.
  await new Promise((resolve) => setTimeout(resolve, 400));
});

Deno.test("sendWithRetry() does not retry a refusal", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const user = await registerUser(server.url);
  const api = new Api(server.url);
  api.token = user.token;
  let retried = false;
  await assert.rejects(
    sendWithRetry(api, "no-such-room", "hi", { onRetry: () => retried = true }),
    (e: unknown) => e instanceof ApiFailure && e.status === 404,
  );
  assert.equal(retried, false);
});

Deno.test("Api turns the error shape into ApiFailure, and no answer into Unreachable", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  await registerUser(server.url, "carol");
  const api = new Api(server.url + "/ignored/path");
  assert.equal(api.server, server.url);
  await assert.rejects(api.login("carol", "wrong-password"), {
    name: "ApiFailure",
    status: 401,
    code: "bad_credentials",
    message: "Wrong username or password.",
  });
  const nowhere = new Api(`http://127.0.0.1:${freePort()}`);
  await assert.rejects(nowhere.health(), (e: unknown) => {
    assert.ok(e instanceof Unreachable);
    assert.match(e.message, /^Cannot reach the server at .* \(connection refused\)$/);
    return true;
  });
  assert.equal(networkReason(new DOMException("slow", "TimeoutError")), "timed out");
});
