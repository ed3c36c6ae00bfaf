/**
 * Reading many keys at once.
 *
 * @module
 */

/** `kv.getMany` for any number of keys (it takes at most 10 at a time). */
export async function getManyChunked<T>(kv: Deno.Kv, keys: Deno.KvKey[]): Promise<(T | null)[]> {
  const chunks: Deno.KvKey[][] = [];
  for (let i = 0; i < keys.length; i += 10) chunks.push(keys.slice(i, i + 10));
  const results = await Promise.all(chunks.map((c) => kv.getMany<T[]>(c)));
  return results.flat().map((e) => e.value);
}
