import assert from "node:assert/strict";
import { checkEvent } from "../../shared/events.ts";

Deno.test("checkEvent() accepts an event as documented and names what breaks the contract", () => {
  const user = { id: "u1", username: "alice" };
  assert.equal(
    checkEvent("member", { roomId: "r1", user, action: "joined", memberCount: 2, ownerId: null }),
    null,
  );
  assert.match(checkEvent("member", { roomId: "r1", user, action: "joined" })!, /memberCount/);
  assert.match(
    checkEvent("member", { roomId: "r1", user, action: "came", memberCount: 2 })!,
    /action/,
  );
  assert.match(checkEvent("gossip", {})!, /unknown event type gossip/);
  assert.equal(checkEvent("typing", { roomId: "r1", user }), null);
});

Deno.test("EVENT_NAMES lists exactly the event types that have a schema", async () => {
  const { EVENT_NAMES } = await import("../../shared/event_names.ts");
  const { eventSchemas } = await import("../../shared/events.ts");
  assert.deepEqual([...EVENT_NAMES].sort(), Object.keys(eventSchemas).sort());
});
