/**
 * CPU profiles of the server process over the V8 inspector protocol, and a
 * summary of where the time went (`deno task bench --profile`).
 *
 * @module
 */

/** The parts of a `.cpuprofile` this module reads. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A profiler attached to a process started with `--inspect`. */
export class Profiler {
  #ws: WebSocket;
  #nextId = 1;
  #waiting = new Map<number, (result: unknown) => void>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.id) this.#waiting.get(msg.id)?.(msg.result ?? msg.error);
    };
  }

  /** Connects to the inspector listening on `port`. */
  static async attach(port: number): Promise<Profiler> {
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    const profiler = new Profiler(ws);
    await profiler.#send("Profiler.enable");
    await profiler.#send("Profiler.setSamplingInterval", { interval: 200 });
    return profiler;
  }

  #send(method: string, params: unknown = {}): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Starts sampling. */
  async start(): Promise<void> {
    await this.#send("Profiler.start");
  }

  /** Stops sampling and returns the profile. */
  async stop(): Promise<CpuProfile> {
    const result = await this.#send("Profiler.stop") as { profile: CpuProfile };
    return result.profile;
  }

  /** Disconnects. */
  close(): void {
    this.#ws.close();
  }
}

/** One line of a summary. */
export interface ProfileRow {
  name: string;
  ms: number;
  pct: number;
}

/** Where the time went: by function (self time), by source file, and inclusive for Parley's own. */
export interface ProfileSummary {
  totalMs: number;
  byFunction: ProfileRow[];
  byFile: ProfileRow[];
  inclusive: ProfileRow[];
}

/**
 * Sums sample time by function (self), by file, and by function inclusive of
 * callees for Parley's own modules (which is what says "the POST handler").
 */
export function summarize(profile: CpuProfile, root: string, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + profile.timeDeltas[i]));
  const totalUs = profile.timeDeltas.reduce((a, b) => a + b, 0);

  const short = (url: string) =>
    url.replace(`file://${root}/`, "").replace(/^.*node_modules\/\.deno\//, "npm:").replace(
      /^ext:/,
      "ext:",
    ) || "(native)";
  const label = (n: CpuProfile["nodes"][number]) =>
    `${n.callFrame.functionName || "(anonymous)"} ${short(n.callFrame.url)}` +
    (n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : "");

  const fn = new Map<string, number>(), file = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const name = label(n);
    fn.set(name, (fn.get(name) ?? 0) + us);
    const f = n.callFrame.url ? short(n.callFrame.url).replace(/@[^/]+/, "") : n.callFrame
      .functionName;
    file.set(f, (file.get(f) ?? 0) + us);
    // Inclusive time of Parley's own functions: every distinct one on the stack gets the sample.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at)!;
      if (!node.callFrame.url.startsWith(`file://${root}/`)) continue;
      const l = label(node);
      if (seen.has(l)) continue;
      seen.add(l);
      incl.set(l, (incl.get(l) ?? 0) + us);
    }
  }
  const rows = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({
      name,
      ms: Math.round(us / 1000),
      pct: Math.round(us / totalUs * 1000) / 10,
    }));
  return {
    totalMs: Math.round(totalUs / 1000),
    byFunction: rows(fn),
    byFile: rows(file),
    inclusive: rows(incl),
  };
}

/** Prints a summary as three short tables. */
export function printSummary(title: string, s: ProfileSummary): void {
  console.log(`\n== CPU profile: ${title} (${s.totalMs} ms sampled) ==`);
  for (
    const [heading, rows] of [
      ["self time by function", s.byFunction],
      ["self time by file", s.byFile],
      ["inclusive time, Parley's functions", s.inclusive],
    ] as const
  ) {
    console.log(`-- ${heading}`);
    for (const r of rows) {
      console.log(`${String(r.pct).padStart(6)}%  ${String(r.ms).padStart(6)} ms  ${r.name}`);
    }
  }
}
