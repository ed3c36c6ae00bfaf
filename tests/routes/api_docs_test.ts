// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { call, testApp } from "../helpers.ts";

/** Every route the app serves under /api (and /metrics), except the documentation itself. */
function apiRoutes(app: { routes: { method: string; path: string }[] }): string[] {
  const skip = new Set([
    "/api/openapi.json",
    "/api/asyncapi.json",
    "/api/docs",
    "/api/docs.css",
    "/api/*",
  ]);
  return [
    ...new Set(
      app.routes
        .filter((r) => (r.path.startsWith("/api/") || r.path === "/metrics") && !skip.has(r.path))
        .filter((r) => r.method !== "ALL")
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
    ),
  ].sort();
}

Deno.test("GET /api/openapi.json lists every route with its schemas", async () => {
  await using t = await testApp();
  const res = await call(t.app, "/api/openapi.json");
  assert.equal(res.status, 200);
  assert.equal(res.body.openapi, "3.1.0");
  const documented = Object.entries(res.body.paths as Record<string, Record<string, unknown>>)
    .flatMap(([path, item]) => Object.keys(item).map((m) => `${m} ${path}`)).sort();
  assert.deepEqual(documented, apiRoutes(t.app.hono));
  for (const [path, item] of Object.entries(res.body.paths as Record<string, any>)) {
    for (const [method, op] of Object.entries(item as Record<string, any>)) {
      const ok = Object.entries(op.responses).find(([s]) => s.startsWith("2"));
      assert.ok(ok, `${method} ${path} documents a success response`);
      if (ok![0] !== "204") {
        const content = Object.values((ok![1] as any).content) as { schema: unknown }[];
        assert.ok(content[0].schema, `${method} ${path} schema`);
      }
      if (method === "post" && op.requestBody) {
        const content = op.requestBody.content;
        const schema = (content["application/json"] ?? content["multipart/form-data"]).schema;
        assert.ok(schema, `${method} ${path} body`);
      }
    }
  }
  const register = res.body.paths["/api/auth/register"].post;
  assert.deepEqual(register.requestBody.content["application/json"].schema, {
    $ref: "#/components/schemas/Credentials",
  });
  assert.ok(res.body.components.schemas.Error);
});

Deno.test("GET /api/docs renders the reference with no external assets", async () => {
  await using t = await testApp();
  const res = await t.app.request("/api/docs");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /text\/html/);
  const html = await res.text();
  assert.match(html, /POST \/api\/auth\/register/);
  assert.doesNotMatch(html, /(src|href)="https?:/, "no asset comes from another host");
});

Deno.test("GET /api/asyncapi.json documents every event type with its payload schema", async () => {
  await using t = await testApp();
  const res = await t.app.request("/api/asyncapi.json");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /application\/json/);
  const doc = JSON.parse(await res.text());
  assert.equal(doc.asyncapi, "3.0.0");
  assert.equal(doc.channels.events.address, "/api/events");
  const { eventSchemas } = await import("../../shared/events.ts");
  const names = Object.keys(eventSchemas).sort();
  assert.deepEqual(Object.keys(doc.channels.events.messages).sort(), names);
  assert.deepEqual(Object.keys(doc.components.messages).sort(), names);
  // Every reference in the document resolves inside it.
  const resolve = (ref: string) =>
    ref.slice(2).split("/").reduce((node: any, part: string) => node?.[part], doc);
  const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g)!.map((r) => r.slice(8, -1));
  for (const ref of refs) assert.ok(resolve(ref), `${ref} resolves`);
  for (const name of names) {
    const payload = resolve(doc.components.messages[name].payload.$ref);
    assert.equal(payload.type, "object", `${name} has an object payload`);
    assert.ok(doc.components.messages[name].summary);
  }
  const member = resolve(doc.components.messages.member.payload.$ref);
  assert.ok(member.required.includes("memberCount"));
});

Deno.test("GET /api/docs shows the events beside the routes", async () => {
  await using t = await testApp();
  const html = await (await t.app.request("/api/docs")).text();
  const { eventSchemas } = await import("../../shared/events.ts");
  for (const name of Object.keys(eventSchemas)) {
    assert.match(html, new RegExp(`id="event-${name}"`));
  }
  assert.match(html, /href="\/api\/asyncapi.json"/);
});
