/**
 * The command-line flag parser every subcommand uses: a subcommand declares
 * the flags it takes in a small spec, and anything else is refused with a
 * usage error (exit status 2), so `serve --parallel 4` cannot be silently
 * ignored. Values are parsed and checked here too, so a bad value is a usage
 * error whatever the flag.
 *
 * @example
 * ```ts
 * const SPEC = {
 *   port: flag.value(port, "a port from 1 to 65535"),
 *   quiet: flag.boolean(),
 *   verbose: flag.boolean("v"),
 * };
 * const { flags, positional } = parseFlags(SPEC, ["-v", "x", "--port", "9"]);
 * flags.port; // 9
 * ```
 *
 * @module
 */

import { closest } from "./suggest.ts";
import { UsageError } from "./usage_error.ts";

/** A flag that is present or not (`--quiet`, `-r`). */
export interface BooleanFlag {
  kind: "boolean";
  /** A one-letter alias (`-v`). */
  short?: string;
}

/** A flag that takes a value (`--port 9`, `--port=9`, `-b FILE`). */
export interface ValueFlag<T> {
  kind: "value";
  short?: string;
  /** Turns the text into the value; throws anything on a bad one. */
  parse: (text: string) => T;
  /** What the flag takes, for the error: "a port from 1 to 65535". */
  expected: string;
}

/** A flag that may be given several times (`--http-host a --http-host b`). */
export interface ListFlag<T> {
  kind: "list";
  short?: string;
  parse: (text: string) => T;
  expected: string;
}

/** A flag alone (`--compress`) or with `=VALUE` (`--compress=auto`). */
export interface OptionalValueFlag<T> {
  kind: "optional";
  short?: string;
  /** The value of the flag given alone. */
  bare: T;
  parse: (text: string) => T;
  expected: string;
}

/**
 * A flag refused with a hint, because people bring it from another tool
 * with another meaning (`-P`, the port to scp users).
 */
export interface RefusedFlag {
  kind: "refused";
  short?: string;
  /** Why, and what to write instead. */
  hint: string;
}

/** Any flag. */
export type Flag =
  | BooleanFlag
  | RefusedFlag
  | ValueFlag<unknown>
  | ListFlag<unknown>
  | OptionalValueFlag<unknown>;

/** The flags a command takes, by long name (one letter: `-r`). */
export type FlagSpec = Record<string, Flag>;

/** The parsed flags of `S`: booleans are false when absent, values undefined. */
export type Flags<S extends FlagSpec> = {
  [K in keyof S]: S[K] extends BooleanFlag ? boolean
    : S[K] extends ValueFlag<infer T> ? T | undefined
    : S[K] extends OptionalValueFlag<infer T> ? T | undefined
    : S[K] extends ListFlag<infer T> ? T[]
    : undefined;
};

/** Builders for flag specs. */
export const flag = {
  /** A flag that is there or not. */
  boolean(short?: string): BooleanFlag {
    return { kind: "boolean", short };
  },
  /** A flag with a value, parsed by `parse` (which throws on bad text). */
  value<T>(
    parse: (text: string) => T,
    expected: string,
    short?: string,
  ): ValueFlag<T> {
    return { kind: "value", parse, expected, short };
  },
  /** A flag with a text value taken as is. */
  text(expected: string, short?: string): ValueFlag<string> {
    return { kind: "value", parse: (text) => text, expected, short };
  },
  /** A flag with a text value that may be given several times. */
  list(expected: string, short?: string): ListFlag<string> {
    return { kind: "list", parse: (text) => text, expected, short };
  },
  /** A flag refused with `hint`, which says what to write instead. */
  refused(hint: string, short?: string): RefusedFlag {
    return { kind: "refused", hint, short };
  },
  /** A flag alone (value `bare`) or with `=VALUE`. */
  optional<T>(
    bare: T,
    parse: (text: string) => T,
    expected: string,
    short?: string,
  ): OptionalValueFlag<T> {
    return { kind: "optional", bare, parse, expected, short };
  },
};

/** Who parses, for the error about a flag not in the spec. */
export interface FlagContext {
  /** The command, as the error names it: "serve", "put". */
  command?: string;
  /**
   * Whether another command takes `arg` (say "serve does not take
   * --parallel" rather than "unknown option").
   */
  elsewhere?: (arg: string) => boolean;
  /** The long names of the flags of `spec` this command takes (default: all). */
  allowed?: readonly string[];
}

/** What {@linkcode parseFlags} found. */
export interface ParsedArgs<S extends FlagSpec> {
  flags: Flags<S>;
  /** The arguments that are not flags, in order. */
  positional: string[];
  /** Where each positional argument stood in the input. */
  positionalIndex: number[];
  /** The flags given, in order: long name and as typed (`-r`). */
  given: { name: string; typed: string }[];
}

/**
 * Parses `args` against `spec`: flags anywhere (`--name`, `--name=value`,
 * `--name value`, `-abc` for one-letter booleans, `-b FILE`, `-bFILE`), `--`
 * ends them, and a lone `-` is a positional argument (stdin/stdout).
 *
 * @throws {UsageError} for a flag not in `spec`, a missing or bad value.
 */
export function parseFlags<S extends FlagSpec>(
  spec: S,
  args: readonly string[],
  context: FlagContext = {},
): ParsedArgs<S> {
  const values: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(spec)) {
    values[name] = f.kind === "boolean"
      ? false
      : f.kind === "list"
      ? []
      : undefined;
  }
  const shorts = new Map<string, string>();
  const takes = (name: string) =>
    Object.hasOwn(spec, name) &&
    (context.allowed === undefined || context.allowed.includes(name));
  for (const [name, f] of Object.entries(spec)) {
    if (!takes(name)) continue;
    if (name.length === 1) shorts.set(name, name);
    if (f.short) shorts.set(f.short, name);
  }
  const positional: string[] = [];
  const positionalIndex: number[] = [];
  const given: { name: string; typed: string }[] = [];
  const set = (
    name: string,
    f: Flag,
    text: string | undefined,
    typed: string,
  ) => {
    if (f.kind === "refused") throw new UsageError(f.hint);
    given.push({ name, typed });
    if (f.kind === "boolean") return void (values[name] = true);
    if (text === undefined && f.kind === "optional") {
      return void (values[name] = f.bare);
    }
    if (text === undefined) {
      throw new UsageError(`${typed} takes ${f.expected}`);
    }
    if (f.kind === "list") {
      return void (values[name] as unknown[]).push(parseValue(name, f, text));
    }
    values[name] = parseValue(name, f, text);
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      for (let j = i + 1; j < args.length; j++) {
        positional.push(args[j]);
        positionalIndex.push(j);
      }
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positional.push(arg);
      positionalIndex.push(i);
      continue;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const f = takes(name) && name.length > 1 ? spec[name] : undefined;
      if (!f) {
        throw unknownFlag(
          arg.slice(0, eq < 0 ? undefined : eq),
          spec,
          context,
        );
      }
      let text = eq < 0 ? undefined : arg.slice(eq + 1);
      if (f.kind === "refused") throw new UsageError(f.hint);
      if (text !== undefined && f.kind === "boolean") {
        throw new UsageError(`--${name} takes no value`);
      }
      const takesValue = f.kind === "value" || f.kind === "list";
      if (text === undefined && takesValue && i + 1 < args.length) {
        text = args[++i];
      }
      set(name, f, text, `--${name}`);
      continue;
    }
    // One-letter flags, combined (-rf) or with a value (-b FILE, -bFILE).
    for (let k = 1; k < arg.length; k++) {
      const name = shorts.get(arg[k]);
      if (name === undefined) throw unknownFlag(`-${arg[k]}`, spec, context);
      const f = spec[name];
      if (f.kind === "refused") throw new UsageError(f.hint);
      if (f.kind !== "value" && f.kind !== "list") {
        set(name, f, undefined, `-${arg[k]}`);
        continue;
      }
      let text: string | undefined = arg.slice(k + 1);
      if (text === "") text = i + 1 < args.length ? args[++i] : undefined;
      set(name, f, text, `-${arg[k]}`);
      break;
    }
  }
  return { flags: values as Flags<S>, positional, positionalIndex, given };
}

function parseValue(name: string, f: Flag, text: string): unknown {
  if (f.kind === "boolean" || f.kind === "refused") return true;
  try {
    return f.parse(text);
  } catch {
    const dashes = name.length === 1 ? "-" : "--";
    throw new UsageError(`${dashes}${name} takes ${f.expected}, not "${text}"`);
  }
}

/** The error for a flag the command does not take. */
function unknownFlag(
  arg: string,
  spec: FlagSpec,
  context: FlagContext,
): UsageError {
  if (context.command !== undefined && context.elsewhere?.(arg)) {
    return new UsageError(`${context.command} does not take ${arg}`);
  }
  const names = Object.keys(spec).filter((name) =>
    name.length > 1 &&
    (context.allowed === undefined || context.allowed.includes(name))
  );
  const near = arg.startsWith("--")
    ? prefixed(closest(arg.slice(2), names))
    : otherCase(arg.slice(1), spec);
  return new UsageError(
    `unknown option "${arg}"${near ? ` (did you mean ${near}?)` : ""}`,
  );
}

function prefixed(name: string | undefined): string | undefined {
  return name === undefined ? undefined : `--${name}`;
}

/** `-V` for a mistyped `-v` (or the other way round), if the spec has it. */
function otherCase(letter: string, spec: FlagSpec): string | undefined {
  const swapped = letter === letter.toLowerCase()
    ? letter.toUpperCase()
    : letter.toLowerCase();
  const known = Object.entries(spec).some(([name, f]) =>
    f.kind !== "refused" && (name === swapped || f.short === swapped)
  );
  return known ? `-${swapped}` : undefined;
}

/** Parses a whole number from `min` to `max`; throws otherwise. */
export function wholeNumber(
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) {
      throw new RangeError(text);
    }
    return value;
  };
}

/** Parses a TCP port, 0 (any free one) to 65535. */
export const port: (text: string) => number = wholeNumber(0, 65535);

/** The longest a timer can wait, in milliseconds (about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Parses a number of seconds (decimals allowed) into milliseconds, at most
 * {@linkcode MAX_TIMER_MS}: more would overflow the timers.
 */
export function seconds(text: string): number {
  const ms = Number(text) * 1000;
  if (!/^\d+(\.\d+)?$/.test(text) || !(ms > 0) || ms > MAX_TIMER_MS) {
    throw new RangeError(text);
  }
  return ms;
}
