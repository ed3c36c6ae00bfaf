/**
 * A TCP proxy on loopback that a test can cut, to make the browser see a
 * network drop while the server keeps running.
 *
 * @module
 */

/** A running proxy. */
export interface CuttableProxy extends AsyncDisposable {
  /** The proxy's port on 127.0.0.1. */
  port: number;
  /** Closes every open connection and refuses new ones for `ms`. */
  cut(ms: number): void;
}

/** Forwards 127.0.0.1:<port> to 127.0.0.1:`target`. */
export function cuttableProxy(target: number): CuttableProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const pipes = new Set<Promise<unknown>>();
  let refuseUntil = 0;
  const close = (c: Deno.Conn) => {
    if (!open.delete(c)) return;
    try {
      c.close();
    } catch { /* already closed */ }
  };
  const accepting = (async () => {
    for await (const down of listener) {
      if (Date.now() < refuseUntil) {
        down.close();
        continue;
      }
      const up = await Deno.connect({ hostname: "127.0.0.1", port: target }).catch(() => null);
      if (!up) {
        down.close();
        continue;
      }
      open.add(down).add(up);
      const a = down.readable.pipeTo(up.writable, { preventClose: true }).catch(() => {});
      const b = up.readable.pipeTo(down.writable, { preventClose: true }).catch(() => {});
      // When either direction ends, end both, as a real connection would.
      const done: Promise<unknown> = Promise.race([a, b])
        .then(() => {
          close(down);
          close(up);
        })
        .then(() => Promise.allSettled([a, b]))
        .finally(() => pipes.delete(done));
      pipes.add(done);
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    cut(ms) {
      refuseUntil = Date.now() + ms;
      for (const c of [...open]) close(c);
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const c of [...open]) close(c);
      await Promise.all(pipes);
    },
  };
}
