/**
 * What the browser tests share: API shortcuts for setting a scene, and the
 * page's message list and composer.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { call } from "../helpers.ts";
import type { UiHarness } from "./browser.ts";

/** How long a browser test waits for something to show. */
export const T = { timeout: 10_000 };

/** Creates a room with the API; returns its id. */
export async function createRoomViaApi(
  h: UiHarness,
  token: string,
  name: string,
  isPrivate = false,
): Promise<string> {
  const res = await call(h.url, "/api/rooms", { token, body: { name, private: isPrivate } });
  assert.equal(res.status, 201);
  return res.body.room.id as string;
}

/** Joins a public room with the API. */
export async function joinViaApi(h: UiHarness, token: string, roomId: string): Promise<void> {
  const res = await call(h.url, `/api/rooms/${roomId}/join`, { token, method: "POST" });
  assert.equal(res.status, 200);
}

/** Sends a message with the API (with `extra` fields: `replyTo`, say); returns it. */
export async function say(
  h: UiHarness,
  token: string,
  roomId: string,
  text: string,
  extra: Record<string, unknown> = {},
): Promise<{ seq: number; mentions?: string[] }> {
  const res = await call(h.url, `/api/rooms/${roomId}/messages`, {
    token,
    body: { text, ...extra },
  });
  assert.equal(res.status, 201);
  return res.body.message;
}

/** The page's list of messages. */
export function messageList(page: Page) {
  return page.locator("ol.messages");
}

/** Writes `text` in the composer and presses Enter. */
export async function send(page: Page, text: string): Promise<void> {
  const box = page.getByLabel("Message", { exact: true });
  await box.fill(text);
  await box.press("Enter");
}
