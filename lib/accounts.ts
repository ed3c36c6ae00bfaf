/**
 * User accounts: registration, look-up and password checks.
 *
 * @module
 */
import { ApiError, Errors } from "./errors.ts";
import { getManyChunked } from "./get_many.ts";
import { newId } from "./ids.ts";
import { userKey, usernameKey } from "./keys.ts";
import { retryLocked } from "./kv_retry.ts";
import { decoyHash, hashPassword, verifyPassword } from "./password.ts";

/** A user as everyone may see them. */
export interface User {
  id: string;
  username: string;
}

/** A user as stored in KV: the public part plus the password hash. */
export interface StoredUser extends User {
  passwordHash: string;
  createdAt: number;
}

/**
 * Creates an account. The username index and the user are written in one
 * commit that checks the name is still free, so two racing registrations of
 * `alice` and `Alice` cannot both succeed.
 *
 * @throws {ApiError} `username_taken` when the name exists in any letter case.
 */
export async function createUser(
  kv: Deno.Kv,
  username: string,
  password: string,
  now: number,
): Promise<User> {
  const user: StoredUser = {
    id: newId(),
    username,
    passwordHash: await hashPassword(password),
    createdAt: now,
  };
  const result = await retryLocked(() =>
    kv.atomic()
      .check({ key: usernameKey(username), versionstamp: null })
      .set(usernameKey(username), user.id)
      .set(userKey(user.id), user)
      .commit()
  );
  if (!result.ok) throw new ApiError(Errors.usernameTaken);
  return publicUser(user);
}

/** Reads a user by id, or `null`. */
export async function getUser(kv: Deno.Kv, userId: string): Promise<User | null> {
  const entry = await kv.get<StoredUser>(userKey(userId));
  return entry.value ? publicUser(entry.value) : null;
}

/** Reads a user by name, ignoring letter case, or `null`. */
export async function findUserByName(kv: Deno.Kv, username: string): Promise<User | null> {
  const stored = await findStoredUser(kv, username);
  return stored ? publicUser(stored) : null;
}

/**
 * Checks a username and password. Unknown users cost as much time as wrong
 * passwords, so the answer does not reveal which names exist.
 */
export async function authenticate(
  kv: Deno.Kv,
  username: string,
  password: string,
): Promise<User | null> {
  const stored = await findStoredUser(kv, username);
  const ok = await verifyPassword(password, stored?.passwordHash ?? await decoyHash());
  return ok && stored ? publicUser(stored) : null;
}

/** Reads many users by id, in the order asked; `null` where one does not exist. */
export async function getUsers(kv: Deno.Kv, ids: string[]): Promise<(User | null)[]> {
  const stored = await getManyChunked<StoredUser>(kv, ids.map(userKey));
  return stored.map((u) => u && publicUser(u));
}

async function findStoredUser(kv: Deno.Kv, username: string): Promise<StoredUser | null> {
  const id = await kv.get<string>(usernameKey(username));
  if (!id.value) return null;
  return (await kv.get<StoredUser>(userKey(id.value))).value;
}

function publicUser({ id, username }: User): User {
  return { id, username };
}
