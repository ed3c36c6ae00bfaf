/**
 * The terminal's end-to-end encryption commands (`/dm --encrypted`,
 * `/encrypt`, `/verify`, `/devices`) and how a typed message becomes an
 * envelope in an encrypted conversation (docs/encryption.md).
 *
 * @module
 */
import type { Room } from "../shared/api_types.ts";
import type { Envelope, Payload, PublishedDevice } from "../shared/e2e.ts";
import type { MessageBody } from "./api.ts";
import type { ChatView } from "./chat_view.ts";
import { DevicesChanged, type Encryption } from "./encryption.ts";
import { clean, LOCK, roomLabel, when } from "./format.ts";
import type { Composer } from "./outbox.ts";

/**
 * What the outbox posts for a message: its text, or in an encrypted
 * conversation (as the state knows it when the message's turn comes) an
 * envelope. A device change not yet told is told here, and the message held
 * back: the next one accepts the new devices.
 */
export function composer(view: ChatView): Composer {
  return async (room, payload, fresh) => {
    if (fresh) {
      const now = await view.api.room(room.id);
      view.apply({ type: "room", id: null, data: { room: now } });
    }
    const current = view.state.rooms[room.id] ?? room;
    if (!current.encrypted) {
      if (payload.files?.length) {
        throw new Error(`${roomLabel(current)} is no longer encrypted; upload the file again.`);
      }
      return { text: payload.text };
    }
    const body: MessageBody = { envelope: await seal(view, current, payload) };
    return body;
  };
}

/**
 * Encrypts for an encrypted conversation; a device change not told yet is
 * told, and the error says the next try goes ahead.
 */
export async function seal(view: ChatView, room: Room, payload: Payload): Promise<Envelope> {
  try {
    return await needKeys(view).seal(room, payload);
  } catch (error) {
    if (error instanceof DevicesChanged) view.say(error.warning);
    throw error;
  }
}

/**
 * `/dm <user> --encrypted`: opens the conversation encrypted; one that
 * exists already is switched to encrypted (both sides are told).
 */
export async function openEncrypted(view: ChatView, username: string): Promise<Room> {
  needKeys(view);
  const room = await view.api.direct(username, { encrypted: true });
  if (room.encrypted) return room;
  const updated = await view.api.setEncryption(room.id, true);
  if (view.state.rooms[room.id]) view.apply({ type: "room", id: null, data: { room: updated } });
  return updated;
}

/**
 * `/encrypt on|off`: switches the current direct conversation; switching
 * off must be confirmed. The notice message it makes tells both sides.
 */
export async function switchEncryption(view: ChatView, on: boolean, confirmed: boolean) {
  const room = direct(view);
  const label = roomLabel(room);
  if (room.encrypted === on) {
    view.say(on ? `* ${label} is end-to-end encrypted already.` : `* ${label} is not encrypted.`);
    return;
  }
  if (on) needKeys(view);
  if (!on && !confirmed) {
    view.say(
      `! Switching encryption off lets the server read what is sent to ${label} from now on ` +
        "(what was sent encrypted stays so). To go ahead: /encrypt off --yes",
    );
    return;
  }
  const updated = await view.api.setEncryption(room.id, on);
  view.apply({ type: "room", id: null, data: { room: updated } });
}

/** `/verify`: the safety number to compare; `/verify yes`: it matched. */
export async function verify(view: ChatView, confirm: boolean): Promise<void> {
  const room = direct(view);
  const encryption = needKeys(view);
  const name = clean(room.peer?.username ?? room.name, { oneLine: true });
  if (confirm) {
    await encryption.verify(room);
    view.say(
      `* You verified ${name}. If their devices or yours change, you will be told, and ` +
        `${name} is unverified until you compare again.`,
    );
    return;
  }
  const { number, verified } = await encryption.safety(room);
  view.say(`Safety number of ${roomLabel(room)} (yours and ${name}'s devices):`);
  view.say(`  ${number}`);
  view.say(
    verified
      ? `* ${name} is verified for these devices.`
      : `* Compare it with ${name} over another channel (in person, a call). If it matches, ` +
        "type /verify yes.",
  );
}

/** `/devices [user]`: the devices encrypted messages go to, the user's own by default. */
export async function listDevices(view: ChatView, user?: string): Promise<void> {
  const encryption = needKeys(view);
  const name = user?.replace(/^@/, "") ?? view.me.username;
  const devices = await encryption.devicesOf(name);
  const whose = name.toLowerCase() === view.me.username.toLowerCase()
    ? "Your devices"
    : `Devices of ${clean(name, { oneLine: true })}`;
  const activeCount = devices.filter((d) => d.retiredAt === null).length;
  view.say(`${whose} (${activeCount} active):`);
  const now = Date.now();
  for (const d of devices) view.say(deviceLine(d, d.id === encryption.deviceId, now));
  if (!devices.length) view.say("  none yet: nothing encrypted can be sent to them.");
}

/**
 * One line of `/devices`: name, id, when added, and whether it is this one
 * or retired.
 *
 * @example
 * ```ts
 * deviceLine(device, true); // "  parley-cli (linux) · id mX0b3QhJ… · added 14:02 · this device"
 * ```
 */
export function deviceLine(d: PublishedDevice, mine: boolean, now = Date.now()): string {
  const notes = [
    ...(mine ? ["this device"] : []),
    ...(d.retiredAt !== null ? [`retired ${when(d.retiredAt, now)}`] : []),
  ];
  const id = d.id.length > 12 ? `${d.id.slice(0, 10)}…` : d.id;
  const name = clean(d.name, { oneLine: true }) || "unnamed";
  return `  ${name} · id ${id} · added ${when(d.createdAt, now)}` +
    notes.map((n) => ` · ${n}`).join("");
}

function direct(view: ChatView): Room {
  const room = view.currentRoom();
  if (!room) throw new Error("No current conversation: /switch to a direct one first.");
  if (room.kind !== "direct") {
    throw new Error(`${LOCK} Encryption is for direct conversations: /dm <user> --encrypted.`);
  }
  return room;
}

function needKeys(view: ChatView): Encryption {
  if (!view.encryption) {
    throw new Error("This client has no keys for end-to-end encryption (see the error at start).");
  }
  return view.encryption;
}
