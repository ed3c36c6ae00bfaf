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
import { HISTORY_PAGE } from "./navigation.ts";
import type { Outbox } from "./outbox.ts";
import type { RoomActions } from "./room_actions.ts";
import { message, type StoreCore } from "./store_core.ts";

/** Builds `submit`, which handles one line of the composer. */
export function createSlashCommands(
  core: StoreCore,
  actions: RoomActions,
  account: Account,
  outbox: Outbox,
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

  /** Handles one line of the composer: a message or a slash command. */
  async function submit(line: string) {
    const command = parseCommand(line);
    if (command.kind === "message") {
      if (command.text && currentId.value) send(currentId.value, command.text);
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
        return await openDirect(command.user, command.text);
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

  return { submit };
}

function commandHelpLines(): string[] {
  // /quit means nothing in a browser tab.
  return commandHelp.filter(([c]) => !c.startsWith("/quit")).map(([c, d]) => `${c}: ${d}`);
}
