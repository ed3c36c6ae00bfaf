/**
 * Password hashing with scrypt from `node:crypto`. At most a few hashes run
 * at once (each takes 32 MiB and tens of milliseconds of a core); the rest
 * wait their turn, so a registration or login flood cannot starve sends and
 * health checks.
 *
 * @module
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

// N = 2^15, r = 8: 32 MiB and roughly 60 ms per hash on the project's 2-core machines,
// above the scrypt paper's interactive-login setting.
const N = 1 << 15, R = 8, P = 1, KEY_LENGTH = 32;
const MAX_MEM = 64 * 1024 * 1024;

let running = 0;
let allowed = 2;
const waiting: (() => void)[] = [];

/** Sets how many hashes may run at once (`HASH_CONCURRENCY`). */
export function setHashConcurrency(n: number): void {
  allowed = Math.max(1, n);
  while (running < allowed && waiting.length) {
    running++;
    waiting.shift()!();
  }
}

/** How many hashes are waiting for their turn now. */
export function hashesWaiting(): number {
  return waiting.length;
}

async function derive(
  password: string,
  salt: Buffer,
  n: number,
  r: number,
  p: number,
): Promise<Buffer> {
  // A finishing hash hands its slot straight to the next in line.
  if (running < allowed) running++;
  else await new Promise<void>((go) => waiting.push(go));
  try {
    return await scryptKey(password, salt, n, r, p);
  } finally {
    const next = running <= allowed ? waiting.shift() : undefined;
    if (next) next();
    else running--;
  }
}

function scryptKey(password: string, salt: Buffer, n: number, r: number, p: number) {
  return new Promise<Buffer>((resolve, reject) =>
    scrypt(
      password,
      salt,
      KEY_LENGTH,
      { N: n, r, p, maxmem: MAX_MEM },
      (err, key) => err ? reject(err) : resolve(key),
    )
  );
}

/**
 * Hashes a password with a fresh random salt.
 *
 * @returns `scrypt$N$r$p$salt$hash`, salt and hash in base64.
 * @example
 * ```ts
 * const stored = await hashPassword("correct horse");
 * await verifyPassword("correct horse", stored); // true
 * ```
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, R, P);
  return ["scrypt", N, R, P, salt.toString("base64"), key.toString("base64")].join("$");
}

/** Checks a password against a stored hash, comparing in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || !hash) return false;
  const expected = Buffer.from(hash, "base64");
  const key = await derive(password, Buffer.from(salt, "base64"), +n, +r, +p);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

let decoy: Promise<string> | undefined;

/** A hash of no real password, checked for unknown users so they take as long as known ones. */
export function decoyHash(): Promise<string> {
  return decoy ??= hashPassword(crypto.randomUUID());
}
