/**
 * std's `pooledMap`, typed: the std modules come untyped from npm.
 *
 * @module
 */

import { pooledMap as untypedPooledMap } from "@std/async/pool";

/**
 * Maps `items` through `map` with at most `limit` calls running at once;
 * results come in input order.
 */
export const pooledMap = untypedPooledMap as <T, R>(
  limit: number,
  items: Iterable<T> | AsyncIterable<T>,
  map: (item: T) => Promise<R>,
) => AsyncIterable<R>;
