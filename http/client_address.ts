/**
 * Who is asking: the client's address and whether it came over https. Behind
 * a reverse proxy the TCP peer is the proxy, so `X-Forwarded-For` and
 * `X-Forwarded-Proto` are believed when, and only when, the request comes
 * from one of `TRUSTED_PROXIES`; from anyone else they are ignored, or any
 * client could pick its own address.
 *
 * @module
 */
import type { Context } from "hono";

/** The client as far as the server can tell. */
export interface ClientInfo {
  /** The client's IP address, or `local` when there is no socket (tests). */
  address: string;
  /** Whether the client's request reached the site over https. */
  https: boolean;
}

/** An address range: a parsed address and how many leading bits must match. */
interface Range {
  bits: bigint;
  width: 32 | 128;
  prefix: number;
}

/**
 * Parses `TRUSTED_PROXIES` entries: addresses (`10.0.0.2`, `::1`) or CIDR
 * ranges (`172.28.0.0/16`, `fd00::/8`).
 *
 * @throws {Error} for an entry that is neither.
 */
export function parseRanges(entries: string[]): Range[] {
  return entries.map((entry) => {
    const [address, prefix] = entry.split("/");
    const ip = parseIp(address);
    const p = prefix === undefined ? ip?.width : Number(prefix);
    if (!ip || p === undefined || !Number.isInteger(p) || p < 0 || p > ip.width) {
      throw new Error(`TRUSTED_PROXIES: "${entry}" is not an address or a CIDR range`);
    }
    return { ...ip, prefix: p };
  });
}

/**
 * The client of a request: the TCP peer, or, when the peer is a trusted
 * proxy, the nearest untrusted address of `X-Forwarded-For` and the scheme
 * of `X-Forwarded-Proto`.
 *
 * @example
 * ```ts
 * const { address, https } = clientInfo(c, parseRanges(["10.0.0.0/8"]));
 * ```
 */
export function clientInfo(c: Context, trusted: Range[]): ClientInfo {
  const info = c.env as Partial<Deno.ServeHandlerInfo<Deno.NetAddr>> | undefined;
  const peer = info?.remoteAddr?.hostname ?? "local";
  const https = new URL(c.req.url).protocol === "https:";
  if (!trusted.length || !isIn(peer, trusted)) return { address: peer, https };
  // Each proxy appends the address it got the request from: walk back from
  // the nearest, past our own proxies, to the first one we do not run.
  const chain = (c.req.header("x-forwarded-for") ?? "").split(",").map((s) => s.trim())
    .filter(Boolean);
  let address = peer;
  for (let i = chain.length - 1; i >= 0; i--) {
    if (!parseIp(chain[i])) break;
    address = chain[i];
    if (!isIn(address, trusted)) break;
  }
  const proto = c.req.header("x-forwarded-proto")?.split(",")[0].trim().toLowerCase();
  return { address, https: proto ? proto === "https" : https };
}

function isIn(address: string, ranges: Range[]): boolean {
  const ip = parseIp(address);
  if (!ip) return false;
  return ranges.some((r) => {
    if (r.width !== ip.width) return false;
    const shift = BigInt(r.width - r.prefix);
    return (r.bits >> shift) === (ip.bits >> shift);
  });
}

/** An IPv4 or IPv6 address as a number; IPv4-mapped IPv6 counts as IPv4. */
function parseIp(text: string): { bits: bigint; width: 32 | 128 } | null {
  const v4 = text.match(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p) => p > 255)) return null;
    return { bits: parts.reduce((n, p) => (n << 8n) | BigInt(p), 0n), width: 32 };
  }
  const bare = text.replace(/^\[|\]$/g, "").split("%")[0];
  const mapped = bare.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i);
  if (mapped) return parseIp(mapped[1]);
  if (!/^[0-9a-f:]+$/i.test(bare) || (bare.match(/::/g)?.length ?? 0) > 1) return null;
  const [head, tail] = bare.includes("::") ? bare.split("::") : [bare, undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return null;
  const groups = [...left, ...Array(missing).fill("0"), ...right];
  if (groups.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return null;
  return { bits: groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n), width: 128 };
}
