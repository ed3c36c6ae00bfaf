/**
 * Renders the README's screenshots: a real server with a little demo
 * conversation, photographed in headless Chromium at 1440 and 390 px.
 *
 *     deno run -A scripts/screenshots.ts   # writes docs/screenshot-1440.png and -390.png
 *
 * @module
 */
import { chromium, type Page } from "playwright-core";
import { createApp } from "../http/app.ts";
import { defaultConfig } from "../lib/config.ts";
import { build } from "./build.ts";

const out = new URL("../docs/", import.meta.url);
const chromiumPath = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

await build(true);
const kv = await Deno.openKv(":memory:");
const parley = createApp({
  kv,
  clock: Date.now,
  config: { ...defaultConfig, hostname: "127.0.0.1" },
});
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, parley.fetch);
const url = `http://127.0.0.1:${server.addr.port}`;

async function post(token: string, path: string, body?: unknown) {
  const res = await fetch(url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : await res.json();
}

const tokens: Record<string, string> = {};
for (const name of ["maya", "jonas", "priya", "sam", "lena"]) {
  tokens[name] =
    (await post("", "/api/auth/register", { username: name, password: "password-123" }))
      .token;
}
const room = async (owner: string, name: string, isPrivate = false) =>
  (await post(tokens[owner], "/api/rooms", { name, private: isPrivate })).room.id as string;
const say = (who: string, id: string, text: string) =>
  post(tokens[who], `/api/rooms/${id}/messages`, { text });

const design = await room("priya", "design-review", true);
await post(tokens.priya, `/api/rooms/${design}/members`, { username: "maya" });
await say("priya", design, "Uploaded the new onboarding flow, feedback welcome");
const general = await room("jonas", "general");
for (const who of ["maya", "priya", "sam", "lena"]) {
  await post(tokens[who], `/api/rooms/${general}/join`);
}
await say("jonas", general, "Morning all! Release candidate is up on staging.");
await say("jonas", general, "Changelog: https://example.com/releases/2.4");
await say("priya", general, "Nice. The new sidebar feels so much faster!");
await say("maya", general, "Checked it on my phone too, works great.");
await say("sam", general, "I'll run the load test after lunch and post numbers here.");
await say("lena", general, "Can someone review my PR for the read markers?\nIt's small, promise.");
await say("maya", general, "On it!");
const random = await room("sam", "random");
for (const who of ["maya", "lena"]) await post(tokens[who], `/api/rooms/${random}/join`);
await post(tokens.maya, `/api/rooms/${random}/read`, { seq: 0 });
await say("sam", random, "Who's up for lunch at the new ramen place?");
await say("lena", random, "me!");
const dm = (await post(tokens.jonas, "/api/direct/maya")).room.id as string;
await say("jonas", dm, "Got a minute to go over the release notes?");
await say("jonas", dm, "No rush");
// Maya read general up to her own message; the rest arrives while she looks.

const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
});
const context = await browser.newContext({ deviceScaleFactor: 1 });
const { token } = await post("", "/api/auth/login", { username: "maya", password: "password-123" });
await context.addCookies([{ name: "parley_session", value: token, url }]);
// Others are online, so presence dots show.
const others = ["jonas", "priya", "lena"].map((n) =>
  fetch(`${url}/api/events`, { headers: { authorization: `Bearer ${tokens[n]}` } })
);
const streams = await Promise.all(others);

async function shoot(
  width: number,
  height: number,
  file: string,
  prepare?: (p: Page) => Promise<void>,
) {
  const page = await context.newPage();
  await page.setViewportSize({ width, height });
  await page.goto(`${url}/rooms/${general}`);
  await page.locator("html[data-live]").waitFor();
  await page.locator("ol.messages li.msg").first().waitFor();
  await prepare?.(page);
  await post(tokens.lena, `/api/rooms/${general}/typing`);
  await page.getByText("lena is typing…").waitFor();
  await page.screenshot({ path: new URL(file, out).pathname });
  await page.close();
}

await Deno.mkdir(out, { recursive: true });
await shoot(1440, 900, "screenshot-1440.png");
await shoot(390, 844, "screenshot-390.png");
if (Deno.args.includes("--all")) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(url + "/");
  await page.locator("html[data-live]").waitFor();
  await page.screenshot({ path: "/tmp/parley-390-home.png" });
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.getByRole("button", { name: "Browse rooms" }).click();
  await page.locator(".pick").first().waitFor();
  await page.screenshot({ path: "/tmp/parley-1440-browse.png" });
  await page.keyboard.press("Escape");
  await page.getByRole("button", { name: "New room" }).click();
  await page.screenshot({ path: "/tmp/parley-1440-create.png" });
  await page.keyboard.press("Escape");
  await page.locator(`[data-room-id="${random}"]`).click();
  await page.locator(".divider").waitFor();
  await page.screenshot({ path: "/tmp/parley-1440-divider.png" });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole("button", { name: "Members" }).click();
  await page.screenshot({ path: "/tmp/parley-390-members.png" });
  const anon = await browser.newContext();
  const login = await anon.newPage();
  await login.goto(url + "/login");
  await login.screenshot({ path: "/tmp/parley-login.png" });
  await anon.close();
}

for (const s of streams) await s.body?.cancel();
await browser.close();
await server.shutdown();
await parley.close();
kv.close();
console.log("Wrote docs/screenshot-1440.png and docs/screenshot-390.png");
