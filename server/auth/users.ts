/**
 * The server's users file: a JSON file (mode 0600) holding, per user, the
 * name, whether the user may only read, and the SCRAM verifier. Passwords are
 * never stored. The file also holds a random secret from which the SCRAM
 * server makes up stable salts for unknown users.
 *
 * ```json
 * {
 *   "version": 1,
 *   "secret": "<base64>",
 *   "users": [
 *     { "name": "ann", "readOnly": false,
 *       "verifier": { "salt": "...", "iterations": 600000,
 *                     "storedKey": "...", "serverKey": "..." } }
 *   ]
 * }
 * ```
 *
 * @module
 */

import { dirname } from "@std/path";
import {
  createVerifier,
  DEFAULT_ITERATIONS,
  type ScramVerifier,
} from "../../protocol/scram.ts";

/** One user as stored in the users file. */
export interface UserRecord {
  /** The login name. */
  name: string;
  /** True if the user may list and download but not change anything. */
  readOnly: boolean;
  /** The SCRAM-SHA-256 verifier of the user's password. */
  verifier: ScramVerifier;
}

/** A user without secrets, as {@linkcode listUsers} returns it. */
export interface UserSummary {
  /** The login name. */
  name: string;
  /** True if the user may only read. */
  readOnly: boolean;
}

/** The loaded users file, ready for the server. */
export interface UserStore {
  /** Secret for the SCRAM server's made-up salts of unknown users (32 bytes). */
  secret: Uint8Array;
  /** Users by name. */
  users: Map<string, UserRecord>;
}

/** Options for {@linkcode addUser}. */
export interface AddUserOptions {
  /** The user may only read. Default: false. */
  readOnly?: boolean;
  /** Replace an existing user of that name (new password). Default: false. */
  replace?: boolean;
  /** PBKDF2 iterations for the verifier. Default: 600,000. */
  iterations?: number;
}

interface UsersFile {
  version: 1;
  secret: string;
  users: UserRecord[];
}

const SECRET_BYTES = 32;

/**
 * Reads the users file. A file that does not exist yet gives a store without
 * users (and a fresh secret), in which no one can log in.
 *
 * @throws {Error} "cannot load users: ..." when the file cannot be read or is
 * malformed.
 */
export async function loadUsers(file: string): Promise<UserStore> {
  const data = await readUsersFile(file, "load users");
  return {
    secret: Uint8Array.fromBase64(data.secret),
    users: new Map(data.users.map((user) => [user.name, user])),
  };
}

/**
 * Adds a user with a password, storing only its SCRAM verifier. Creates the
 * file (mode 0600) if needed.
 *
 * @throws {Error} "cannot add user: ..." when the name is invalid, the user
 * exists and `replace` is not set, or the file cannot be written.
 */
export async function addUser(
  file: string,
  name: string,
  password: string,
  options: AddUserOptions = {},
): Promise<void> {
  const problem = userNameProblem(name);
  if (problem !== undefined) {
    throw new Error(`cannot add user: ${problem}`);
  }
  if (password === "") {
    throw new Error("cannot add user: the password is empty");
  }
  const data = await readUsersFile(file, "add user");
  const index = data.users.findIndex((user) => user.name === name);
  if (index >= 0 && !options.replace) {
    throw new Error(
      `cannot add user: ${name} already exists (add --replace to set a new password)`,
    );
  }
  const record: UserRecord = {
    name,
    readOnly: options.readOnly ?? false,
    verifier: await createVerifier(
      password,
      options.iterations ?? DEFAULT_ITERATIONS,
    ),
  };
  if (index >= 0) data.users[index] = record;
  else data.users.push(record);
  await writeUsersFile(file, data, "add user");
}

/**
 * Removes a user.
 *
 * @throws {Error} "cannot remove user: ..." when there is no such user or the
 * file cannot be written.
 */
export async function removeUser(file: string, name: string): Promise<void> {
  const data = await readUsersFile(file, "remove user");
  const users = data.users.filter((user) => user.name !== name);
  if (users.length === data.users.length) {
    throw new Error(`cannot remove user: there is no user named ${name}`);
  }
  await writeUsersFile(file, { ...data, users }, "remove user");
}

/**
 * Lists the users, sorted by name, without their verifiers.
 *
 * @throws {Error} "cannot list users: ..." when the file cannot be read.
 */
export async function listUsers(file: string): Promise<UserSummary[]> {
  const data = await readUsersFile(file, "list users");
  return data.users
    .map(({ name, readOnly }) => ({ name, readOnly }))
    .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * Returns why `name` cannot be a user name, or undefined if it can: it must
 * be 1 to 64 characters without control characters or leading or trailing
 * spaces.
 */
export function userNameProblem(name: string): string | undefined {
  if (name.length === 0) return "the user name is empty";
  if (name.length > 64) return "the user name is longer than 64 characters";
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) {
    return "the user name contains a control character";
  }
  if (name.trim() !== name) {
    return "the user name starts or ends with a space";
  }
  return undefined;
}

async function readUsersFile(file: string, action: string): Promise<UsersFile> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      const secret = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
      return { version: 1, secret: secret.toBase64(), users: [] };
    }
    throw new Error(
      `cannot ${action}: cannot read ${file}: ${(error as Error).message}`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `cannot ${action}: ${file} is not valid JSON: ${
        (error as Error).message
      }`,
    );
  }
  if (!isUsersFile(data)) {
    throw new Error(`cannot ${action}: ${file} is not an fts users file`);
  }
  return data;
}

async function writeUsersFile(
  file: string,
  data: UsersFile,
  action: string,
): Promise<void> {
  const text = JSON.stringify(data, null, 2) + "\n";
  const temp = `${file}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.mkdir(dirname(file) as string, { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(temp, text, { mode: 0o600, createNew: true });
    await Deno.rename(temp, file);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw new Error(
      `cannot ${action}: cannot write ${file}: ${(error as Error).message}`,
    );
  }
}

function isUsersFile(data: unknown): data is UsersFile {
  if (typeof data !== "object" || data === null) return false;
  const file = data as Record<string, unknown>;
  return file.version === 1 && isBase64(file.secret) &&
    Array.isArray(file.users) && file.users.every(isUserRecord);
}

function isUserRecord(data: unknown): data is UserRecord {
  if (typeof data !== "object" || data === null) return false;
  const user = data as Record<string, unknown>;
  if (typeof user.name !== "string" || typeof user.readOnly !== "boolean") {
    return false;
  }
  const verifier = user.verifier as Record<string, unknown> | null;
  return typeof verifier === "object" && verifier !== null &&
    isBase64(verifier.salt) && isBase64(verifier.storedKey) &&
    isBase64(verifier.serverKey) && Number.isInteger(verifier.iterations) &&
    (verifier.iterations as number) > 0;
}

function isBase64(value: unknown): value is string {
  if (typeof value !== "string" || value === "") return false;
  try {
    Uint8Array.fromBase64(value);
    return true;
  } catch {
    return false;
  }
}
