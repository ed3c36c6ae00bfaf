import assert from "node:assert/strict";
import { configDir, SessionStore } from "../../cli/config_file.ts";
import { tempDir } from "./harness.ts";

Deno.test("configDir() prefers XDG_CONFIG_HOME, then HOME", () => {
  assert.equal(configDir({ XDG_CONFIG_HOME: "/x", HOME: "/h" }), "/x/parley");
  assert.equal(configDir({ HOME: "/home/ann" }), "/home/ann/.config/parley");
  assert.throws(() => configDir({}), /nowhere to keep/);
});

Deno.test("SessionStore keeps one session per server, owner-only", async () => {
  await using dir = await tempDir();
  // A directory others can read already exists: it is tightened.
  await Deno.mkdir(`${dir.path}/parley`, { mode: 0o755 });
  await Deno.chmod(`${dir.path}/parley`, 0o755);
  const store = new SessionStore(`${dir.path}/parley`);
  assert.equal(await store.get("http://a.test:8000"), null);
  await store.set("http://a.test:8000/", { username: "ann", token: "t1" });
  await store.set("https://b.test", { username: "bob", token: "t2" });
  assert.deepEqual(await store.get("http://a.test:8000"), { username: "ann", token: "t1" });
  assert.deepEqual(await store.get("https://b.test/"), { username: "bob", token: "t2" });
  assert.equal((await Deno.stat(store.path)).mode! & 0o777, 0o600);
  assert.equal((await Deno.stat(store.dir)).mode! & 0o777, 0o700);
  await store.delete("http://a.test:8000");
  assert.equal(await store.get("http://a.test:8000"), null);
  assert.deepEqual(await store.get("https://b.test"), { username: "bob", token: "t2" });
  // No temporary files are left behind.
  const names = [];
  for await (const e of Deno.readDir(store.dir)) names.push(e.name);
  assert.deepEqual(names, ["sessions.json"]);
});

Deno.test("SessionStore reads a broken file as empty", async () => {
  await using dir = await tempDir();
  const store = new SessionStore(dir.path);
  await Deno.writeTextFile(store.path, "{not json");
  assert.equal(await store.get("http://a.test"), null);
  await store.set("http://a.test", { username: "ann", token: "t" });
  assert.equal((await store.get("http://a.test"))?.token, "t");
});
