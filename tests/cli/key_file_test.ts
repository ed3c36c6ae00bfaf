import assert from "node:assert/strict";
import { readPrivateJson } from "../../cli/config_file.ts";
import { KeyFile } from "../../cli/key_file.ts";
import { createDeviceKeys, exportDeviceKeys } from "../../shared/e2e.ts";
import { tempDir } from "./harness.ts";

Deno.test("KeyFile keeps a device's private keys per server and account, owner-only", async () => {
  await using dir = await tempDir();
  const file = new KeyFile(`${dir.path}/parley`);
  assert.equal(await file.device("http://a.test:8000", "u1"), null);
  const stored = await exportDeviceKeys(await createDeviceKeys({ extractable: true }));
  await file.saveDevice("http://a.test:8000/", "u1", "ann", stored);
  assert.deepEqual(await file.device("http://a.test:8000", "u1"), stored);
  assert.equal(await file.device("http://a.test:8000", "u2"), null);
  assert.equal(await file.device("https://b.test", "u1"), null);
  assert.equal((await Deno.stat(file.path)).mode! & 0o777, 0o600);
  assert.equal((await Deno.stat(file.dir)).mode! & 0o777, 0o700);

  // What was accepted of others' devices sits beside the keys, and both survive each other's writes.
  const known = file.knownDevices("http://a.test:8000", "u1");
  assert.equal(await known.get("u9"), null);
  await Promise.all([
    known.set("u9", { fingerprint: "f9", verified: true }),
    known.set("u8", { fingerprint: "f8", verified: false }),
  ]);
  assert.deepEqual(await known.get("u9"), { fingerprint: "f9", verified: true });
  assert.deepEqual(await known.get("u8"), { fingerprint: "f8", verified: false });
  assert.deepEqual(await file.device("http://a.test:8000", "u1"), stored);
  assert.equal(await file.knownDevices("http://a.test:8000", "u2").get("u9"), null);
  // No temporary files are left behind.
  assert.deepEqual([...Deno.readDirSync(file.dir)].map((e) => e.name), ["keys.json"]);
});

Deno.test("readPrivateJson() makes a file others can read owner-only", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/keys.json`;
  await Deno.writeTextFile(path, '{"a":1}', { mode: 0o644 });
  await Deno.chmod(path, 0o644);
  assert.deepEqual(await readPrivateJson(path), { a: 1 });
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  await Deno.writeTextFile(path, "[not an object");
  assert.deepEqual(await readPrivateJson(path), {});
  assert.deepEqual(await readPrivateJson(`${dir.path}/missing.json`), {});
});
