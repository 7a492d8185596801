/**
 * The environment variable both `fts connect` and `fts user add` read a
 * password from, so that scripts never put one on a command line.
 *
 * @module
 */

/** The environment variable a password is taken from when it is set. */
export const PASSWORD_ENV = "FTS_PASSWORD";

/** Returns `$FTS_PASSWORD`, or undefined when it is not set. */
export function passwordFromEnv(): string | undefined {
  try {
    return Deno.env.get(PASSWORD_ENV);
  } catch {
    return undefined; // no --allow-env
  }
}
