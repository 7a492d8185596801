/**
 * Host aliases, like `~/.ssh/config`: `fts connect files ls` looks `files`
 * up in the `config` file of the configuration folder (TOML):
 *
 * ```toml
 * [files]
 * host = "files.lan"
 * port = 7373
 * user = "ann"
 * tls = true
 * fingerprint = "SHA256:..."   # or ca = "/path/to/ca.pem"
 * ```
 *
 * What the command line says wins over the file.
 *
 * @module
 */

import { join } from "@std/path";
import { parse as parseToml } from "@std/toml";
import { configDir } from "../config/config_dir.ts";
import { UsageError } from "../cli/usage_error.ts";

/** One alias's settings. */
export interface HostAlias {
  host: string;
  port?: number;
  user?: string;
  tls?: boolean;
  fingerprint?: string;
  ca?: string;
}

/** The default config file, `config` in the configuration folder. */
export function hostConfigFile(): string {
  return join(configDir(), "config") as string;
}

/**
 * Reads the aliases in `file`; none when it is undefined or does not exist.
 *
 * @throws {UsageError} when the file is not valid TOML or an alias is
 * malformed (one line naming the file and the alias).
 */
export async function readHostConfig(
  file: string | undefined,
): Promise<Map<string, HostAlias>> {
  if (file === undefined) return new Map();
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new Map();
    throw new UsageError(`cannot read ${file}: ${(error as Error).name}`);
  }
  let table: Record<string, unknown>;
  try {
    table = parseToml(text) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(
      `${file} is not valid TOML (${(error as Error).message.split("\n")[0]})`,
    );
  }
  const aliases = new Map<string, HostAlias>();
  for (const [name, value] of Object.entries(table)) {
    aliases.set(name, checkAlias(value, `${file}: [${name}]`));
  }
  return aliases;
}

const FIELDS: Record<string, string> = {
  host: "string",
  port: "number",
  user: "string",
  tls: "boolean",
  fingerprint: "string",
  ca: "string",
};

function checkAlias(value: unknown, where: string): HostAlias {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UsageError(`${where} must be a table of settings`);
  }
  for (const [key, field] of Object.entries(value)) {
    if (!Object.hasOwn(FIELDS, key)) {
      throw new UsageError(`${where} has an unknown setting "${key}"`);
    }
    const type: string = typeof field;
    if (type !== FIELDS[key]) {
      throw new UsageError(`${where}: ${key} must be a ${FIELDS[key]}`);
    }
  }
  const alias = value as HostAlias;
  if (typeof alias.host !== "string" || alias.host === "") {
    throw new UsageError(`${where} needs a host`);
  }
  if (
    alias.port !== undefined &&
    (!Number.isInteger(alias.port) || alias.port < 1 || alias.port > 65535)
  ) {
    throw new UsageError(`${where}: port must be from 1 to 65535`);
  }
  return alias;
}

/**
 * `[USER@]NAME[:PORT]` with NAME replaced by its alias's address, the
 * alias's port and user filling in what the text leaves out; the text
 * unchanged when NAME is no alias.
 */
export function applyAlias(
  text: string,
  aliases: Map<string, HostAlias>,
): { target: string; alias?: HostAlias } {
  const at = text.lastIndexOf("@");
  const user = at < 0 ? undefined : text.slice(0, at);
  const match = /^([^:[\]]+)(?::(\d+))?$/.exec(text.slice(at + 1));
  const alias = match ? aliases.get(match[1]) : undefined;
  if (!match || !alias) return { target: text };
  const host = alias.host.includes(":") ? `[${alias.host}]` : alias.host;
  const port = match[2] ?? (alias.port === undefined ? "" : String(alias.port));
  const who = user ?? alias.user;
  return {
    target: `${who === undefined ? "" : `${who}@`}${host}${
      port ? `:${port}` : ""
    }`,
    alias,
  };
}
