/**
 * The fts release version, read from deno.json so there is one place to bump.
 *
 * @module
 */

import config from "./deno.json" with { type: "json" };

/** The fts release version, e.g. `0.1.0`. */
export const VERSION: string = config.version;
