/**
 * The one place a storage backend is chosen: a serve target names either a
 * folder on the local disk or an `s3://BUCKET[/PREFIX]`, and
 * {@linkcode openStore} opens the {@linkcode Store} for it. Everything else
 * reaches files through the `Store` interface and its optional abilities.
 *
 * The S3 modules and their signing library are imported only here, on first
 * use, so a server of a local folder never loads them.
 *
 * @module
 */

import { LocalStore } from "./local/local_store.ts";
import { isS3Target } from "./s3/config.ts";
import type { S3StoreOptions } from "./s3/s3_store.ts";
import type { Store } from "./store.ts";

/** How the backends are opened, beyond the target itself. */
export interface OpenStoreOptions {
  /** Most bytes the local staging area may hold (`--partial-limit`). */
  partialLimit?: number;
  /** How an `s3://` target is reached, beyond what the environment says. */
  s3?: BucketOptions;
}

/** The options of a bucket target (`--s3-path-style`, tuning in tests). */
export type BucketOptions = S3StoreOptions;

/**
 * Whether `target` names a folder on the local disk (rather than a bucket):
 * only a folder is checked, created and shown as an absolute path.
 */
export function isFolderTarget(target: string): boolean {
  return !isS3Target(target);
}

/** Opens the store a serve target names (creating a missing folder). */
export async function openStore(
  target: string,
  options: OpenStoreOptions = {},
): Promise<Store> {
  if (isS3Target(target)) {
    const { S3Store } = await import("./s3/s3_store.ts");
    return await S3Store.open(target, options.s3);
  }
  return await LocalStore.open(target, { partialLimit: options.partialLimit });
}
