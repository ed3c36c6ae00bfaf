/**
 * The pieces of `/upload` and `/download` on their own: the streamed
 * multipart body (read back by the server's own reader), the HTTP client's
 * answers, the lines shown, the status line, and downloads that go wrong.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Api, ApiFailure, Unreachable } from "../../cli/api.ts";
import {
  downloadFile,
  progressLine,
  safeFileName,
  takePath,
} from "../../cli/attachment_commands.ts";
import { ChatView } from "../../cli/chat_view.ts";
import { parseLine } from "../../cli/command_runner.ts";
import {
  formatAttachment,
  formatMessage,
  formatNotice,
  formatSize,
  messageSummary,
} from "../../cli/format.ts";
import { Screen } from "../../cli/screen.ts";
import {
  contentDispositionName,
  FileChanged,
  mediaTypeOf,
  uploadBody,
} from "../../cli/transfer.ts";
import { boundaryOf, readFilePart } from "../../http/multipart.ts";
import type { Attachment, Message, Room } from "../../shared/api_types.ts";
import { tempDir } from "./harness.ts";

const photo: Attachment = {
  id: "att_1",
  roomId: "r1",
  name: "photo.png",
  size: 1_258_291,
  contentType: "image/png",
  sha256: "0".repeat(64),
  createdAt: 1,
  width: 640,
  height: 480,
};

const message: Message = {
  id: "m1",
  roomId: "r1",
  seq: 1,
  author: { id: "u1", username: "bob" },
  text: "look",
  createdAt: Date.UTC(2026, 0, 1, 12, 30),
  attachments: [photo, { ...photo, id: "att_2", name: "evil\x1b[2J\nname.txt", width: undefined }],
};

function stream(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks);
}

async function bytesOf(body: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(body).arrayBuffer());
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

Deno.test("uploadBody() is a multipart form the server reads back exactly, as long as it says", async () => {
  const file = crypto.getRandomValues(new Uint8Array(50_000));
  const name = 'résumé "final"\r\n.txt';
  const seen: number[] = [];
  const { contentType, length, body } = uploadBody(
    {
      name,
      size: file.length,
      contentType: "text/plain",
      body: stream(file.slice(0, 20_000), file.slice(20_000)),
    },
    (sent) => seen.push(sent),
  );
  const sent = await bytesOf(body);
  assert.equal(sent.length, length);
  assert.deepEqual(seen, [20_000, 50_000]);
  const part = await readFilePart(stream(sent), boundaryOf(contentType)!, "file");
  assert.equal(part.filename, name);
  assert.equal(part.contentType, "text/plain");
  const chunks: Uint8Array[] = [];
  for await (const chunk of part.body) chunks.push(chunk);
  assert.equal(sha256(await bytesOf(stream(...chunks))), sha256(file));
});

Deno.test("uploadBody() fails rather than send a body its length misstates", async () => {
  for (const actual of [99, 101]) {
    const { body } = uploadBody({
      name: "a.bin",
      size: 100,
      contentType: "application/octet-stream",
      body: stream(new Uint8Array(actual)),
    });
    await assert.rejects(bytesOf(body), /The file changed while it was being sent/);
  }
});

Deno.test("Api.upload() streams with a Content-Length and turns a 413 into an ApiFailure with details", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/big.bin`;
  await Deno.writeFile(path, new Uint8Array(4 * 1024 * 1024));
  const heads: (string | null)[] = [];
  // Refuses at once, the body unread, as the server does for a file too large.
  await using server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    heads.push(req.headers.get("content-length"), req.headers.get("transfer-encoding"));
    return Response.json({
      error: {
        code: "file_too_large",
        message: "The file is too large.",
        details: { maxBytes: 1048576 },
      },
    }, { status: 413 });
  });
  const api = new Api(`http://127.0.0.1:${server.addr.port}`);
  api.token = "t";
  using file = await Deno.open(path);
  const size = (await file.stat()).size;
  const failure = await api.upload("r1", {
    name: "big.bin",
    size,
    contentType: "application/octet-stream",
    body: file.readable,
  }).then(() => null, (e) => e);
  assert.ok(failure instanceof ApiFailure);
  assert.deepEqual([failure.status, failure.code, failure.details], [413, "file_too_large", {
    maxBytes: 1048576,
  }]);
  assert.ok(Number(heads[0]) > size && Number(heads[0]) < size + 1024);
  assert.equal(heads[1], null);
});

Deno.test("Api.upload() of a file that changed while being sent says so", async () => {
  await using server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    async (req) => {
      await req.arrayBuffer().catch(() => {});
      return Response.json({ attachment: {} }, { status: 201 });
    },
  );
  const api = new Api(`http://127.0.0.1:${server.addr.port}`);
  const error = await api.upload("r1", {
    name: "a.txt",
    size: 10,
    contentType: "text/plain",
    body: stream(new Uint8Array(4)),
  }).then(() => null, (e) => e);
  assert.ok(error instanceof FileChanged, String(error));
});

Deno.test("Api.upload() to a server that is not there is Unreachable", async () => {
  const api = new Api("http://127.0.0.1:9");
  const error = await api.upload("r1", {
    name: "a.txt",
    size: 2,
    contentType: "text/plain",
    body: stream(new Uint8Array(2)),
  }).then(() => null, (e) => e);
  assert.ok(error instanceof Unreachable, String(error));
  assert.match(error.message, /connection refused/);
});

/** A server that answers every request with `head` and then `body` as raw bytes, and hangs up. */
function rawServer(head: string, body: Uint8Array) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of listener) {
      await conn.read(new Uint8Array(4096));
      await conn.write(new TextEncoder().encode(head));
      await conn.write(body);
      conn.close();
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    async [Symbol.asyncDispose]() {
      listener.close();
      await serving;
    },
  };
}

function viewOn(server: string): { view: ChatView; printed: string[] } {
  const printed: string[] = [];
  const screen = new Screen({
    input: new ReadableStream({ start: (c) => c.close() }),
    write: (text) => printed.push(text.replace(/\n$/, "")),
    interactive: false,
  });
  const api = new Api(server);
  api.token = "t";
  return { view: new ChatView(api, screen, { id: "u1", username: "alice" }), printed };
}

Deno.test("/download of a file cut short, or whose checksum differs, keeps nothing", async () => {
  await using dir = await tempDir();
  const bytes = crypto.getRandomValues(new Uint8Array(1000));
  const headers = (length: number, sum: string) =>
    `HTTP/1.1 200 OK\r\ncontent-length: ${length}\r\netag: "${sum}"\r\n` +
    `content-disposition: attachment; filename="x.bin"\r\nconnection: close\r\n\r\n`;
  {
    await using server = rawServer(headers(2000, sha256(bytes)), bytes);
    const { view, printed } = viewOn(server.url);
    await assert.rejects(downloadFile(view, "a1", dir.path), /; nothing was saved\.$/);
    assert.deepEqual(printed, []);
  }
  {
    await using server = rawServer(headers(1000, "f".repeat(64)), bytes);
    const { view } = viewOn(server.url);
    await assert.rejects(
      downloadFile(view, "a1", dir.path),
      /^Error: The downloaded bytes do not match the file's checksum; nothing was saved\.$/,
    );
  }
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
  {
    await using server = rawServer(headers(1000, sha256(bytes)), bytes);
    const { view, printed } = viewOn(server.url);
    await downloadFile(view, "a1", dir.path);
    assert.deepEqual(printed, [`* Saved ${dir.path}/x.bin (1000 B)`]);
    assert.equal(sha256(await Deno.readFile(`${dir.path}/x.bin`)), sha256(bytes));
  }
});

Deno.test("a message's files show under its text: name cleaned, size, dimensions, id", () => {
  assert.equal(formatAttachment(photo), "  📎 photo.png · 1.2 MB · 640×480 · id att_1");
  assert.match(
    formatMessage(message),
    /^#\d+ \[\d\d:\d\d\] bob: look\n {2}📎 photo\.png · 1\.2 MB · 640×480 · id att_1\n {2}📎 evil\[2J ⏎ name\.txt · 1\.2 MB · id att_2$/,
  );
  // Files alone: the line ends at the author's name.
  assert.match(
    formatMessage({ ...message, text: "" }),
    /^#\d+ \[\d\d:\d\d\] bob:\n {2}📎 photo\.png/,
  );
  // A deleted message's files are gone with it.
  assert.match(formatMessage({ ...message, text: "", deleted: true }), /bob: \(message deleted\)$/);
  assert.equal(messageSummary({ ...message, text: "" }), "📎 photo.png 📎 evil[2J ⏎ name.txt");
  const room = { kind: "group", name: "den" } as Room;
  assert.equal(
    formatNotice(room, message, 200),
    "» #den · bob: look 📎 photo.png 📎 evil[2J ⏎ name.txt",
  );
});

Deno.test("formatSize() reads like a file manager", () => {
  const cases: [number, string][] = [
    [0, "0 B"],
    [1023, "1023 B"],
    [1024, "1.0 KB"],
    [900 * 1024, "900 KB"],
    [1_258_291, "1.2 MB"],
    [3 * 1024 * 1024 + 12345, "3.0 MB"],
    [1024 * 1024 - 1, "1.0 MB"],
    [25 * 1024 * 1024, "25 MB"],
    [5 * 1024 ** 3, "5.0 GB"],
  ];
  for (const [bytes, shown] of cases) assert.equal(formatSize(bytes), shown, String(bytes));
});

Deno.test("progressLine() shows a bar, percent and bytes", () => {
  assert.equal(
    progressLine("↑ photo.png", 1_572_864, 3_145_728),
    "↑ photo.png [██████████░░░░░░░░░░]  50%  1.5 MB / 3.0 MB",
  );
  assert.equal(progressLine("↓ a", 0, 0), "↓ a [████████████████████] 100%  0 B / 0 B");
  assert.equal(progressLine("↓ a", 2048, null), "↓ a  2.0 KB");
});

Deno.test("/upload and /download take a path quoted, escaped or plain", () => {
  assert.deepEqual(takePath('"my photo.png" look at this'), {
    path: "my photo.png",
    rest: "look at this",
  });
  assert.deepEqual(takePath("'a b'"), { path: "a b", rest: "" });
  assert.deepEqual(takePath("my\\ photo.png  hi"), { path: "my photo.png", rest: "hi" });
  assert.equal(takePath('"open'), null);
  assert.equal(takePath("  "), null);
  assert.deepEqual(parseLine("/upload ~/a.png  two  words"), {
    kind: "upload",
    path: "~/a.png",
    text: "two  words",
  });
  assert.deepEqual(parseLine("/UPLOAD a.png"), { kind: "upload", path: "a.png", text: "" });
  assert.equal(parseLine("/upload").kind, "error");
  assert.deepEqual(parseLine("/download abc_1-2"), { kind: "download", id: "abc_1-2" });
  assert.deepEqual(parseLine('/download abc "x y.bin"'), {
    kind: "download",
    id: "abc",
    path: "x y.bin",
  });
  for (const bad of ["/download", "/download a/b", "/download abc x y", '/download abc "x']) {
    assert.equal(parseLine(bad).kind, "error", bad);
  }
});

Deno.test("a file's name from the server is made fit for the disk", () => {
  assert.equal(safeFileName("../../etc/passwd"), "passwd");
  assert.equal(safeFileName("a\x1b[2J\nb.txt"), "a[2Jb.txt");
  assert.equal(safeFileName("\u202Egnp.exe"), "gnp.exe");
  assert.equal(safeFileName(".."), "download");
  assert.equal(safeFileName(""), "download");
  assert.equal(
    contentDispositionName(`attachment; filename="a_.txt"; filename*=UTF-8''%C3%A9.txt`),
    "é.txt",
  );
  assert.equal(contentDispositionName('inline; filename="say \\"hi\\".png"'), 'say "hi".png');
  assert.equal(contentDispositionName("attachment"), null);
  assert.equal(mediaTypeOf("A.PNG"), "image/png");
  assert.equal(mediaTypeOf("notes"), "application/octet-stream");
});

Deno.test("the status line sits above the typed line: printing keeps it, clearing removes it", async () => {
  let out = "";
  const input = new TransformStream<Uint8Array, Uint8Array>();
  const screen = new Screen({
    input: input.readable,
    write: (text) => out += text,
    interactive: true,
    columns: () => 40,
  });
  screen.setPrompt("#den> ");
  const keys = input.writable.getWriter();
  await keys.write(new TextEncoder().encode("half"));
  await new Promise((resolve) => setTimeout(resolve, 10));
  out = "";
  screen.setStatus("↑ a.bin 50%");
  assert.equal(out, "\r\x1b[J↑ a.bin 50%\r\n#den> half\r\x1b[10C");
  out = "";
  screen.print("bob: hi");
  // Up one row past the input to the status line, clear, print, then both again.
  assert.equal(out, "\r\x1b[J\x1b[A\r\x1b[Jbob: hi\r\n↑ a.bin 50%\r\n#den> half\r\x1b[10C");
  out = "";
  screen.setStatus("↑ a.bin 100% and a label far too long to fit");
  assert.ok(out.endsWith("\r\n#den> half\r\x1b[10C"), JSON.stringify(out));
  assert.ok(out.includes("↑ a.bin 100% and a label far too long …\r\n"), JSON.stringify(out));
  out = "";
  screen.setStatus(null);
  assert.equal(out, "\r\x1b[J\x1b[A\r\x1b[J#den> half\r\x1b[10C");
  await keys.close();
  await screen.ended;
  screen.close();
});
