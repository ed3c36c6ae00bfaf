/**
 * The terminal's end-to-end encryption commands (`/dm --encrypted`,
 * `/encrypt`, `/verify`, `/devices`, `/ok`) and how a typed message becomes an
 * envelope in an encrypted conversation (docs/encryption.md).
 *
 * @module
 */
import type { Room } from "../shared/api_types.ts";
import type { Envelope, Payload, PublishedDevice } from "../shared/e2e.ts";
import type { ChatView } from "./chat_view.ts";
import { DevicesChanged, type Encryption } from "./encryption.ts";
import { clean, LOCK, roomLabel, when } from "./format.ts";
import { type Composer, Held } from "./outbox.ts";

/**
 * What the outbox posts for a message: its text, or in an encrypted
 * conversation (as the state knows it when the message's turn comes) an
 * envelope. A message typed into an encrypted conversation that is no
 * longer encrypted is refused, never sent in plaintext unasked; one whose
 * recipients' devices changed is held for `/ok` (the change is told first).
 */
export function composer(view: ChatView): Composer {
  return async (room, payload, { fresh, typedEncrypted }) => {
    let latest: Room | null = null;
    if (fresh) {
      latest = await view.api.room(room.id);
      view.apply({ type: "room", id: null, data: { room: latest } });
    }
    const current = view.state.rooms[room.id] ?? room;
    if (!current.encrypted) {
      if (typedEncrypted || payload.files?.length) {
        const again = payload.files?.length ? "/upload it again" : "type it again";
        throw new Error(
          `${turnedOff(view, latest ?? current)} before it went; ${again} to send it ` +
            "unencrypted (the server can read it).",
        );
      }
      return { text: payload.text };
    }
    try {
      return { envelope: await seal(view, current, payload) };
    } catch (error) {
      if (!(error instanceof DevicesChanged)) throw error;
      throw new Held(
        `${error.message}. /ok sends it to the devices as they are now; /verify compares ` +
          "safety numbers first.",
        error.accept,
      );
    }
  };
}

/** "bob turned end-to-end encryption off", as far as the room's last message tells who did. */
function turnedOff(view: ChatView, room: Room): string {
  const last = room.lastMessage;
  if (last?.notice !== "encryption_off") return "End-to-end encryption was turned off";
  const who = last.author.id === view.me.id
    ? "You"
    : clean(last.author.username, { oneLine: true });
  return `${who} turned end-to-end encryption off`;
}

/**
 * Encrypts for an encrypted conversation; a device change not told yet is
 * told first, and the {@linkcode DevicesChanged} rethrown.
 */
export async function seal(view: ChatView, room: Room, payload: Payload): Promise<Envelope> {
  try {
    return await needKeys(view).seal(room, payload);
  } catch (error) {
    if (error instanceof DevicesChanged) {
      for (const warning of error.warnings) view.say(warning);
    }
    throw error;
  }
}

/**
 * `/ok` with no message waiting: accepts the device change told in the
 * current conversation, so what is sent next goes to the devices as they
 * are now.
 */
export async function confirmDevices(view: ChatView): Promise<void> {
  const room = view.currentRoom();
  if (!room?.encrypted || room.kind !== "direct" || !view.encryption) {
    view.say("* Nothing waits for /ok.");
    return;
  }
  for (const line of await view.encryption.confirm(room)) view.say(line);
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
    "* No forward secrecy within a device key's life: whoever gets a device's private key " +
      "can read every message sent to that device.",
  );
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
