/**
 * End-to-end encryption (`docs/encryption.md`): the devices users publish
 * their public keys for, and switching a direct conversation's encryption.
 * The messages themselves go through `/api/rooms/:id/messages` as envelopes.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { requireUser } from "../http/middleware/auth.ts";
import { errors, json, jsonBody, signedIn } from "../http/openapi.ts";
import { newRouter, type Services } from "../http/router.ts";
import {
  DeviceList,
  DeviceParams,
  DeviceResult,
  EncryptionBody,
  PublishDeviceBody,
  RoomParams,
  RoomResult,
  UsernameParams,
} from "../shared/schemas.ts";

const tags = ["Encryption"];
const security = signedIn;

const publish = createRoute({
  method: "put",
  path: "/me/devices/{deviceId}",
  tags,
  security,
  summary: "Publish one of your devices' public keys (ECDH and ECDSA P-256 JWKs)",
  description: "Only public keys: a JWK with `d` is refused (400). The same keys again change " +
    "nothing; other keys under a known id, a retired id, or more than 20 active devices answer " +
    "409. The other participant of each of your encrypted conversations gets a `devices` event.",
  request: { params: DeviceParams, ...jsonBody(PublishDeviceBody) },
  responses: {
    200: json(DeviceResult, "Published, or published before with these keys"),
    ...errors(400, 401, 403, 409, 429),
  },
});

const retire = createRoute({
  method: "delete",
  path: "/me/devices/{deviceId}",
  tags,
  security,
  summary: "Retire one of your devices: it gets no keys for new messages and cannot send",
  description: "It stays listed with `retiredAt`, so the messages it signed still verify. " +
    "Retiring it again changes nothing.",
  request: { params: DeviceParams },
  responses: { 204: { description: "Retired" }, ...errors(400, 401, 403, 404, 429) },
});

const list = createRoute({
  method: "get",
  path: "/users/{username}/devices",
  tags,
  security,
  summary: "A user's devices with their public keys, retired ones too, oldest first",
  request: { params: UsernameParams },
  responses: { 200: json(DeviceList, "Their devices"), ...errors(400, 401, 404) },
});

const encryption = createRoute({
  method: "put",
  path: "/rooms/{id}/encryption",
  tags,
  security,
  summary: "Switch a direct conversation's end-to-end encryption on or off (either participant)",
  description: "A switch is a notice message (`notice: encryption_on` or `encryption_off`, " +
    "empty text, you as author) in the conversation's history, and both sides get a `room` " +
    "event. Switching to what it already is changes nothing. Group rooms answer 400.",
  request: { params: RoomParams, ...jsonBody(EncryptionBody) },
  responses: {
    200: json(RoomResult, "The conversation as you now see it"),
    ...errors(400, 401, 403, 404, 429),
  },
});

/** The end-to-end encryption routes. */
export function encryptionRoutes(s: Services) {
  const app = newRouter();
  app.use("/me/devices/*", requireUser(s));
  app.use("/users/:username/devices", requireUser(s));
  app.use("/rooms/:id/encryption", requireUser(s));

  app.openapi(publish, async (c) => {
    const { deviceId } = c.req.valid("param");
    const device = await s.devices.publish(c.var.user, deviceId, c.req.valid("json"));
    return c.json({ device }, 200);
  });

  app.openapi(retire, async (c) => {
    await s.devices.retire(c.var.user, c.req.valid("param").deviceId);
    return c.body(null, 204);
  });

  app.openapi(list, async (c) => {
    const devices = await s.devices.list(c.req.valid("param").username);
    return c.json({ devices }, 200);
  });

  app.openapi(encryption, async (c) => {
    const { id } = c.req.valid("param");
    const room = await s.rooms.setEncryption(c.var.user, id, c.req.valid("json").encrypted);
    return c.json({ room }, 200);
  });

  return app;
}
