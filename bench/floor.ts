/**
 * The floor: the least a relay on `Deno.serve` can do for the benchmark's
 * load, measured in the same run as Parley so their ratio means something on
 * any machine (absolute figures swing two- to three-fold between machines).
 *
 * No authentication (a token is the username it was issued to), no
 * validation, no storage, no presence, no keep-alive, no back-pressure: a
 * POSTed JSON body is written as a `message` event (with an id) to every
 * open event stream of the room's members. It speaks just enough of Parley's
 * API that `bench/load.ts` drives it unchanged:
 *
 * - `POST /api/auth/register`, `POST /api/auth/login` → `{ user, token }`
 * - `POST /api/direct/:username` → `{ room }`, whose id names both members
 *   (`d~<a>~<b>`), so a direct room needs no state and works on any worker
 * - `POST /api/rooms` → `{ room }`; `POST /api/rooms/:id/join`
 * - `POST /api/rooms/:id/messages` → 201, the body relayed
 * - `GET /api/events`: an event stream that starts with `ready`
 * - `GET /api/health`
 *
 * Every response carries `x-parley-instance`, this worker's id, as Parley's do.
 *
 * Run it with `deno serve --allow-net --port <p> bench/floor.ts`, or with
 * `--parallel` (`DENO_JOBS=<n>`) on several workers. Its state (open streams,
 * created rooms) is per worker, so on several workers it relays only between
 * a sender and receivers whose connections landed on the same worker: the
 * benchmark pins each pair's connections to one worker for it
 * (`bench/load.ts`, `placePairs`).
 *
 * @module
 */

const encoder = new TextEncoder();
/** This worker: each worker of `deno serve --parallel` loads the module anew. */
const worker = crypto.randomUUID().slice(0, 8);

/** Open event streams by user. */
const streams = new Map<string, Set<ReadableStreamDefaultController<Uint8Array>>>();
/** Rooms made with `POST /api/rooms`, by id: their members. */
const rooms = new Map<string, Set<string>>();
let lastRoom = 0;
let lastEvent = 0;

const readyChunk = encoder.encode(`event: ready\ndata: {"worker":"${worker}"}\n\n`);
const jsonHeaders = { "content-type": "application/json", "x-parley-instance": worker };
const streamHeaders = {
  "content-type": "text/event-stream",
  "cache-control": "no-store",
  "x-parley-instance": worker,
};

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: jsonHeaders });
}

/** The bearer token, which is the username: no authentication at all. */
function user(req: Request): string {
  return req.headers.get("authorization")?.slice(7) ?? "";
}

/** A direct room's id names both members, so any worker knows them. */
function directId(a: string, b: string): string {
  return a < b ? `d~${a}~${b}` : `d~${b}~${a}`;
}

function members(roomId: string): Iterable<string> | undefined {
  return roomId.startsWith("d~") ? roomId.slice(2).split("~") : rooms.get(roomId);
}

function openStream(name: string): Response {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      let mine = streams.get(name);
      if (!mine) streams.set(name, mine = new Set());
      mine.add(c);
      c.enqueue(readyChunk);
    },
    cancel() {
      const mine = streams.get(name);
      mine?.delete(controller);
      if (mine?.size === 0) streams.delete(name);
    },
  });
  return new Response(body, { headers: streamHeaders });
}

async function relay(req: Request, roomId: string): Promise<Response> {
  const to = members(roomId);
  if (!to) return json({ error: "no such room" }, 404);
  // JSON has line breaks only as whitespace, so dropping them keeps it one `data:` line.
  const text = (await req.text()).replace(/[\r\n]/g, "");
  const id = ++lastEvent;
  const chunk = encoder.encode(`event: message\nid: ${id}\ndata: ${text}\n\n`);
  for (const name of to) {
    for (const stream of streams.get(name) ?? []) stream.enqueue(chunk);
  }
  return json({ id }, 201);
}

/** The whole server: one function, routes matched by hand. */
async function fetch(req: Request): Promise<Response> {
  const url = req.url;
  const query = url.indexOf("?");
  const path = url.slice(url.indexOf("/", url.indexOf("//") + 2), query < 0 ? undefined : query);
  const parts = path.split("/"); // "", "api", …
  if (req.method === "GET") {
    if (path === "/api/events") return openStream(user(req));
    if (path === "/api/health") return json({ status: "ok", worker });
  } else if (req.method === "POST") {
    if (parts[2] === "rooms" && parts[4] === "messages" && parts.length === 5) {
      return await relay(req, decodeURIComponent(parts[3]));
    }
    if (path === "/api/auth/register" || path === "/api/auth/login") {
      const { username } = await req.json();
      return json({ user: { id: username, username }, token: username }, 201);
    }
    if (parts[2] === "direct" && parts.length === 4) {
      await req.body?.cancel();
      const other = decodeURIComponent(parts[3]);
      return json({ room: { id: directId(user(req), other), kind: "direct" } }, 201);
    }
    if (path === "/api/rooms") {
      const { name } = await req.json();
      const id = `r${worker}${++lastRoom}`;
      rooms.set(id, new Set([user(req)]));
      return json({ room: { id, name } }, 201);
    }
    if (parts[2] === "rooms" && parts[4] === "join" && parts.length === 5) {
      await req.body?.cancel();
      const room = rooms.get(decodeURIComponent(parts[3]));
      if (!room) return json({ error: "no such room" }, 404);
      room.add(user(req));
      return json({ joined: true });
    }
  }
  await req.body?.cancel();
  return json({ error: "not found" }, 404);
}

export default { fetch } satisfies Deno.ServeDefaultExport;
