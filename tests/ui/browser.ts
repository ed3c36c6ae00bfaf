/**
 * Browser-test plumbing: finds Debian's Chromium, starts a real Parley server
 * with the bundle built, and opens signed-in pages.
 *
 * @module
 */
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { createApp, type ParleyApp } from "../../http/app.ts";
import { type Config, defaultConfig } from "../../lib/config.ts";
import { defaultLimits, type Limits } from "../../lib/rate_limits.ts";
import { build } from "../../scripts/build.ts";
import { registerUser } from "../helpers.ts";
import { type CuttableProxy, cuttableProxy } from "./cuttable_proxy.ts";

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM_PATH = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

const found = await Deno.stat(CHROMIUM_PATH).then(() => true, () => false);
const ci = Deno.env.get("CI") === "true";

/**
 * Whether to skip the browser tests: only when there is no Chromium and this
 * is not CI (under `CI=true` a missing browser fails the run instead).
 */
export const skipBrowser: boolean = !found && !ci;
if (skipBrowser) {
  console.warn(
    `%cSkipping browser tests: no Chromium at ${CHROMIUM_PATH} ` +
      "(apt-get install -y chromium, or set CHROMIUM_PATH).",
    "color: orange",
  );
}

/** A running server and a browser pointed at it. */
export interface UiHarness extends AsyncDisposable {
  /** Where the browser goes: a proxy in front of the server, which `proxy.cut()` drops. */
  url: string;
  /** The server itself, for API calls while the proxy is cut. */
  direct: string;
  proxy: CuttableProxy;
  /** Console errors and uncaught exceptions of every page opened with `open()`. */
  errors: string[];
  parley: ParleyApp;
  /** The server's KV, for tests that look at what it stored. */
  kv: Deno.Kv;
  browser: Browser;
  /** A fresh browser context (its own cookies) signed in as a new user. */
  user(name: string): Promise<{ context: BrowserContext; id: string; token: string }>;
  /** A page of `context` at `path`, with the app hydrated and (when signed in) live. */
  open(context: BrowserContext, path?: string): Promise<Page>;
}

/** Options of {@linkcode startUi}. */
export interface UiOptions {
  /**
   * Turns the rate limits on, these in place of the defaults (`{}`: the
   * defaults). Without it, no limit applies.
   */
  rateLimits?: Partial<Limits>;
  /** A browser to use (and leave open) instead of launching one. */
  browser?: Browser;
  /** The usernames of the server's administrators. */
  admins?: string[];
  /** Settings in place of the defaults (the upload limits, say). */
  config?: Partial<Config>;
}

/** Builds the bundle if stale, serves Parley on 127.0.0.1 and launches Chromium. */
export async function startUi(options: UiOptions = {}): Promise<UiHarness> {
  await build(true);
  const kv = await Deno.openKv(":memory:");
  const parley = createApp({
    kv,
    clock: Date.now,
    config: {
      ...defaultConfig,
      hostname: "127.0.0.1",
      presenceGraceMs: 500,
      rateLimitsOn: options.rateLimits !== undefined,
      admins: options.admins ?? [],
      limits: { ...defaultLimits, ...options.rateLimits },
      ...options.config,
    },
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, parley.fetch);
  const direct = `http://127.0.0.1:${server.addr.port}`;
  const proxy = cuttableProxy(server.addr.port);
  const url = `http://127.0.0.1:${proxy.port}`;
  const browser = options.browser ?? await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const contexts: BrowserContext[] = [];
  const errors: string[] = [];
  return {
    url,
    direct,
    proxy,
    errors,
    parley,
    kv,
    browser,
    async user(name) {
      const { id, token } = await registerUser(url, name);
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      contexts.push(context);
      await context.addCookies([{ name: "parley_session", value: token, url }]);
      return { context, id, token };
    },
    async open(context, path = "/") {
      const page = await context.newPage();
      page.on("pageerror", (e) => errors.push(`${page.url()}: ${e.message}`));
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(`${page.url()}: ${m.text()}`);
      });
      await page.goto(url + path);
      await page.locator("html[data-live]").waitFor({ timeout: 10_000 });
      return page;
    },
    async [Symbol.asyncDispose]() {
      for (const c of contexts) await c.close().catch(() => {});
      if (!options.browser) await browser.close();
      await proxy[Symbol.asyncDispose]();
      await server.shutdown();
      await parley.close();
      kv.close();
    },
  };
}
