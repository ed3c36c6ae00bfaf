/**
 * Resuming a stream: the first event (`ready`, or `reset` for an id that
 * cannot be resumed) and the replay of what a reconnecting client missed,
 * read from the log and filtered by the same visibility rule as live
 * delivery. A replay is bounded: past the resume window (the log's floor,
 * raised by trimming) or past `maxEntries` log entries it answers `reset`.
 *
 * @module
 */
import { formatEventId, parseEventId } from "./event_ids.ts";
import { encodeStored } from "./event_payloads.ts";
import { isReplayed, sees, type Viewer } from "./event_visibility.ts";
import { comparePositions, eventSpan, type LogPosition, readLog } from "./feed.ts";
import { logFloorKey } from "./keys.ts";
import { readMessageRange } from "./messages.ts";
import { metrics } from "./metrics.ts";
import { memberRoomView } from "./rooms.ts";
import { concat, encodeEvent, type SseStream } from "./sse.ts";

/** What a resume needs. */
export interface ResumeOptions {
  kv: Deno.Kv;
  /** The log's epoch, which ids must name. */
  epoch: string;
  stream: SseStream;
  viewer: Viewer;
  /** What the client sent as `Last-Event-ID`; `null` for a fresh stream. */
  lastEventId: string | null;
  /** The position live delivery took over from: the replay stops there. */
  until: LogPosition;
  /** How many log entries a replay may read. */
  maxEntries: number;
}

/** Sends the first event, then replays what the client missed, if it asked. */
export async function resume(o: ResumeOptions): Promise<void> {
  const from = parseEventId(o.epoch, o.lastEventId);
  const untilId = formatEventId(o.epoch, o.until);
  const floor = async () => (await o.kv.get<string>(logFloorKey())).value ?? "";
  if (o.lastEventId === null) {
    o.stream.write(encodeEvent("ready", untilId, { position: untilId }));
    return;
  }
  const resumable = from !== null && from.vs > await floor() &&
    comparePositions(from, o.until) <= 0;
  if (!resumable) {
    o.stream.write(encodeEvent("reset", untilId, { reason: "unknown or expired id" }));
  } else if (!await replay(o, from)) {
    o.stream.write(encodeEvent("reset", untilId, { reason: "too far behind to replay" }));
  } else if (from.vs <= await floor()) {
    // Trimming that overtook a slow replay took events with it: say so.
    o.stream.write(encodeEvent("reset", untilId, { reason: "expired during replay" }));
  }
}

/**
 * Writes the events after `from` up to `o.until` that the viewer sees, in
 * order. Returns `false`, having stopped, when the log between them is
 * longer than a replay may read.
 */
async function replay(o: ResumeOptions, from: LogPosition): Promise<boolean> {
  let entries = 0;
  for await (const { vs, entry } of readLog(o.kv, from)) {
    if (vs > o.until.vs) return true;
    if (++entries > o.maxEntries) return false;
    const skip = vs === from.vs ? from.k : 0;
    const last = vs === o.until.vs ? o.until.k : Infinity;
    // Events go out in writes of up to WRITE_BYTES, not one by one (a send batch
    // is up to hundreds of messages), waiting for the client between writes.
    let chunks: Uint8Array[] = [], bytes = 0;
    const write = async () => {
      await o.stream.drained();
      const ok = o.stream.write(concat(chunks));
      metrics.eventsDelivered += chunks.length;
      chunks = [];
      bytes = 0;
      return ok;
    };
    let k = 0;
    for (const event of entry.events) {
      const first = k + 1;
      k += eventSpan(event);
      if (k <= skip || first > last || !isReplayed(event) || !sees(event, o.viewer)) continue;
      for (const chunk of await render(o, event, vs, first, skip, last)) {
        chunks.push(chunk);
        bytes += chunk.byteLength;
        if (bytes >= WRITE_BYTES && !await write()) return true;
      }
    }
    if (chunks.length && !await write()) return true;
  }
  return true;
}

/** How much of a replay one write carries at most (well within any stream's buffer). */
const WRITE_BYTES = 64 * 1024;

/** The encoded events one visible log event gives the viewer, within `skip`..`last`. */
async function render(
  o: ResumeOptions,
  event: Parameters<typeof sees>[0],
  vs: string,
  first: number,
  skip: number,
  last: number,
): Promise<Uint8Array[]> {
  const id = (k: number) => formatEventId(o.epoch, { vs, k });
  switch (event.type) {
    case "message": {
      const messages = await readMessageRange(o.kv, event.roomId, event.from, event.to);
      return messages
        .map((m) => ({ m, k: first + m.seq - event.from }))
        .filter(({ k }) => k > skip && k <= last)
        .map(({ m, k }) => encodeEvent("message", id(k), m));
    }
    case "room": {
      const room = await memberRoomView(o.kv, event.roomId, o.viewer.id);
      return room ? [encodeEvent("room", id(first), { room })] : [];
    }
    default: {
      const chunk = encodeStored(event, id(first));
      return chunk ? [chunk] : [];
    }
  }
}
