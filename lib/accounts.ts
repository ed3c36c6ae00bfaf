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

/** Who may see a user's presence. */
export type PresenceVisibility = "everyone" | "contacts";

/** A user as stored in KV: the public part, the password hash, their settings. */
export interface StoredUser extends User {
  passwordHash: string;
  createdAt: number;
  /** `contacts`: only people who share a room with them see them online. */
  presenceVisibility?: PresenceVisibility;
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

/** A user's settings. */
export async function getSettings(
  kv: Deno.Kv,
  userId: string,
): Promise<{ presenceVisibility: PresenceVisibility }> {
  const stored = (await kv.get<StoredUser>(userKey(userId))).value;
  return { presenceVisibility: stored?.presenceVisibility ?? "everyone" };
}

/** Changes a user's settings. */
export async function updateSettings(
  kv: Deno.Kv,
  userId: string,
  settings: { presenceVisibility: PresenceVisibility },
): Promise<void> {
  await updateStoredUser(kv, userId, (u) => ({ ...u, ...settings }));
}

/**
 * Changes a user's password, if `current` is right.
 *
 * @throws {ApiError} `bad_credentials` when it is not.
 */
export async function changePassword(
  kv: Deno.Kv,
  userId: string,
  current: string,
  next: string,
): Promise<void> {
  const stored = (await kv.get<StoredUser>(userKey(userId))).value;
  if (!stored || !await verifyPassword(current, stored.passwordHash)) {
    throw new ApiError(Errors.badCredentials, undefined, {
      message: "The current password is wrong.",
    });
  }
  const passwordHash = await hashPassword(next);
  await updateStoredUser(kv, userId, (u) => ({ ...u, passwordHash }));
}

/** Who may see each user's presence, in the order asked. */
export async function presenceVisibilityOf(
  kv: Deno.Kv,
  ids: string[],
): Promise<PresenceVisibility[]> {
  const stored = await getManyChunked<StoredUser>(kv, ids.map(userKey));
  return stored.map((u) => u?.presenceVisibility ?? "everyone");
}

/** Rewrites a stored user with a check, so concurrent changes do not undo each other. */
async function updateStoredUser(
  kv: Deno.Kv,
  userId: string,
  change: (u: StoredUser) => StoredUser,
): Promise<void> {
  for (;;) {
    const entry = await kv.get<StoredUser>(userKey(userId));
    if (!entry.value) throw new ApiError(Errors.userNotFound);
    const done = await retryLocked(() =>
      kv.atomic().check(entry).set(userKey(userId), change(entry.value!)).commit()
    );
    if (done.ok) return;
  }
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
