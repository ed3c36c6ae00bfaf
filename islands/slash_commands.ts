/**
 * The composer's slash commands in the web app, parsed by the parser both
 * clients share (`shared/commands.ts`) and run with the store's actions.
 *
 * @module
 */
import { fetchHistory } from "../shared/client_actions.ts";
import { withHistory } from "../shared/client_state.ts";
import { type Command, commandHelp, parseCommand } from "../shared/commands.ts";
import type { Account } from "./account.ts";
import { api } from "./client_api.ts";
import type { Encryption } from "./encryption.ts";
import type { Moderation } from "./moderation.ts";
import { HISTORY_PAGE } from "./navigation.ts";
import type { Outbox } from "./outbox.ts";
import type { RoomActions } from "./room_actions.ts";
import { message, type StoreCore } from "./store_core.ts";
import type { ReplyQuote } from "./types.ts";
import type { Upload } from "./uploads.ts";

/** Builds `submit`, which handles one line of the composer. */
export function createSlashCommands(
  core: StoreCore,
  actions: RoomActions,
  account: Account,
  outbox: Outbox,
  moderation: Moderation,
  e2e: Encryption,
) {
  const {
    update,
    rooms,
    currentId,
    members,
    people,
    invitations,
    dialog,
    showMembers,
    conversation,
    refreshPeople,
    notify,
  } = core;
  const {
    joinByNameOrId,
    createRoom,
    leaveRoom,
    openDirect,
    invite,
    acceptInvitation,
    declineInvitation,
    findInvitation,
    logout,
  } = actions;
  const { send } = outbox;

  /**
   * Handles one line of the composer: a message (with the files uploaded for
   * it, if any, answering `replyTo` if given) or a slash command.
   */
  async function submit(line: string, uploads: Upload[] = [], replyTo?: ReplyQuote) {
    const command = parseCommand(line);
    if (command.kind === "message") {
      if ((command.text || uploads.length) && currentId.value) {
        send(currentId.value, command.text, uploads, replyTo);
      }
      return;
    }
    try {
      await runCommand(command);
    } catch (e) {
      notify("error", "That did not work", [message(e)]);
    }
  }

  async function runCommand(command: Command) {
    const roomId = currentId.value;
    switch (command.kind) {
      case "join":
      case "switch":
        return await joinByNameOrId(command.room, command.kind === "switch");
      case "create":
        return await createRoom(command.name, command.private, command.capacity);
      case "leave":
        if (!roomId) throw new Error("Open a room to leave it.");
        return await leaveRoom(roomId);
      case "dm":
        return await openDirect(command.user, command.text, command.encrypted ?? false);
      case "encrypt": {
        const room = inDirect(roomId);
        const question = `Turn off end-to-end encryption with ${room.name}? Messages from now ` +
          "on can be read by the server.";
        if (!command.on && !command.confirmed && !confirm(question)) return;
        return await e2e.setEncrypted(room.id, command.on);
      }
      case "verify": {
        const room = inDirect(roomId);
        if (!room.encrypted) throw new Error("This conversation is not end-to-end encrypted.");
        if (!command.confirm) {
          dialog.value = { kind: "safety", roomId: room.id };
          return;
        }
        // Only a number the user was shown, for the devices there are now.
        if (!await e2e.verifyShown(room)) {
          dialog.value = { kind: "safety", roomId: room.id };
          return notify("info", "Compare this safety number first", [
            `Then mark ${room.name} verified, or type /verify yes again.`,
          ]);
        }
        return notify("info", `You verified ${room.name}`, []);
      }
      case "devices": {
        const user = command.user ?? core.me.value!.username;
        const list = (await e2e.devicesOf(user)).filter((d) => d.retiredAt === null);
        return notify(
          "info",
          `${user === core.me.value!.username ? "Your" : `${user}'s`} devices`,
          list.length
            ? list.map((d) => d.name || d.id)
            : [`None yet: nothing encrypted can reach ${user}.`],
        );
      }
      case "invite":
        if (!roomId) throw new Error("Open a room to invite someone to it.");
        await invite(roomId, command.user);
        return notify("info", `Invited ${command.user}`, ["They join when they accept."]);
      case "invites": {
        const list = invitations.value;
        return notify(
          "info",
          list.length ? "Invitations" : "No invitations",
          list.map((i) => `${i.roomName}, from ${i.by.username}: /accept ${i.roomName}`),
        );
      }
      case "accept":
        return await acceptInvitation(findInvitation(command.room).roomId);
      case "decline": {
        const invitation = findInvitation(command.room);
        await declineInvitation(invitation.roomId);
        return notify("info", `Declined the invitation to ${invitation.roomName}`, []);
      }
      case "block": {
        const user = await account.block(command.user);
        return notify("info", `Blocked ${user.username}`, [
          "No more direct messages, invitations, typing or presence from them.",
        ]);
      }
      case "unblock": {
        const user = await account.unblock(command.user);
        return notify("info", `Unblocked ${user.username}`, []);
      }
      case "sessions":
        dialog.value = "account";
        return;
      case "password":
        dialog.value = "password";
        return;
      case "presence": {
        const visibility = await account.setPresence(command.visibility);
        return notify(
          "info",
          visibility === "everyone"
            ? "Everyone can see when you are online"
            : "Only people you share a conversation with can see when you are online",
          [],
        );
      }
      case "edit":
        return await moderation.editLast(inRoom(roomId), command.text);
      case "kick": {
        const id = inGroup(roomId);
        const member = moderation.memberNamed(id, command.user);
        await moderation.kick(id, member.id);
        return notify("info", `Removed ${member.username} from #${roomName(id)}`, []);
      }
      case "ban": {
        const id = inGroup(roomId);
        await moderation.ban(id, command.user, command.reason, command.minutes);
        return notify("info", `Banned ${command.user} from #${roomName(id)}`, [
          command.minutes ? `For ${command.minutes} min.` : "Until the ban is lifted.",
        ]);
      }
      case "unban": {
        const id = inGroup(roomId);
        const lifted = await moderation.unbanNamed(id, command.user);
        return notify("info", `Lifted the ban on ${lifted.user.username}`, []);
      }
      case "mod":
      case "unmod": {
        const id = inGroup(roomId);
        const member = moderation.memberNamed(id, command.user);
        const role = command.kind === "mod" ? "moderator" : "member";
        await moderation.setRole(id, member.id, role);
        return notify("info", `${member.username} is now a ${role} of #${roomName(id)}`, []);
      }
      case "users": {
        await refreshPeople();
        const names = people.value.filter((u) => u.online).map((u) => u.username);
        dialog.value = "people";
        return notify("info", "Online now", names.length ? [names.join(", ")] : ["No one"]);
      }
      case "rooms":
        return notify(
          "info",
          "Your rooms",
          rooms.value.map((r) => `${r.name}${r.unread ? ` (${r.unread} unread)` : ""}`),
        );
      case "who":
        if (!roomId) throw new Error("Open a room first.");
        showMembers.value = true;
        return notify("info", "Members", members.value.map((m) => m.username));
      case "history": {
        if (!roomId) throw new Error("Open a conversation first.");
        const first = conversation(roomId).messages.value[0]?.seq;
        const page = await fetchHistory(api, roomId, command.count ?? HISTORY_PAGE, first);
        update((s) => withHistory(s, roomId, page, "older"));
        return notify("info", `Loaded ${page.messages.length} earlier messages`, []);
      }
      case "ping": {
        const start = performance.now();
        await api("GET", "/api/health");
        return notify("info", `Pong: ${Math.round(performance.now() - start)} ms`, []);
      }
      case "help":
        return notify(
          "info",
          "Commands",
          commandHelpLines(),
        );
      case "logout":
        return await logout();
      case "quit":
        return notify("info", "Close the tab to quit; /logout signs you out.", []);
      case "error":
        return notify("error", command.message, []);
    }
  }

  function inRoom(roomId: string | null): string {
    if (!roomId) throw new Error("Open a conversation first.");
    return roomId;
  }

  function inDirect(roomId: string | null) {
    const room = rooms.value.find((r) => r.id === inRoom(roomId));
    if (room?.kind !== "direct") throw new Error("That works in direct conversations only.");
    return room;
  }

  function inGroup(roomId: string | null): string {
    const id = inRoom(roomId);
    if (rooms.value.find((r) => r.id === id)?.kind !== "group") {
      throw new Error("That works in rooms, not direct conversations.");
    }
    return id;
  }

  function roomName(roomId: string): string {
    return rooms.value.find((r) => r.id === roomId)?.name ?? roomId;
  }

  return { submit };
}

function commandHelpLines(): string[] {
  // /quit means nothing in a browser tab.
  return commandHelp.filter(([c]) => !c.startsWith("/quit")).map(([c, d]) => `${c}: ${d}`);
}
