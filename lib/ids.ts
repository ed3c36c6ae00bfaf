/**
 * Random identifiers for users, rooms and messages.
 *
 * @module
 */

/**
 * A new random id: 16 URL-safe characters carrying 96 random bits.
 *
 * @example
 * ```ts
 * newId(); // "q3Vb9x0LkT2mWcA_"
 * ```
 */
export function newId(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(12)));
}

/** Encodes bytes as unpadded base64url. */
export function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}
