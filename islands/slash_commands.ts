/**
 * The composer's slash commands in the web app, parsed by the parser both
 * clients share (`shared/commands.ts`) and run with the store's actions.
 *
 * @module
 */
import { fetchHistory } from "../shared/client_actions.ts";
import { withHistory } from "../shared/client_state.ts";
import { commandHelp, parseCommand } from "../shared/commands.ts";
import { api } from "./client_api.ts";
import { HISTORY_PAGE } from "./navigation.ts";
import type { Outbox } from "./outbox.ts";
import type { RoomActions } from "./room_actions.ts";
import { message, type StoreCore } from "./store_core.ts";

/** Builds `submit`, which handles one line of the composer. */
export function createSlashCommands(core: StoreCore, actions: RoomActions, outbox: Outbox) {
  const {
    update,
    rooms,
    currentId,
    members,
    people,
    dialog,
    showMembers,
    conversation,
    refreshPeople,
    notify,
  } = core;
  const { joinByNameOrId, createRoom, leaveRoom, openDirect, invite, logout } = actions;
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

  async function runCommand(command: ReturnType<typeof parseCommand>) {
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
        return notify("info", `Added ${command.user}`, []);
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
