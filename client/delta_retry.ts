/**
 * A transfer that went as a delta and did not verify (a false chunk match,
 * or a version changed or damaged under its summary) is run once more with
 * whole files, which sets it right; `put` and `get` share this.
 *
 * @module
 */

import { IntegrityError } from "../protocol/errors.ts";
import type { TransferOptions, TransferResult } from "./options.ts";

/** What a transfer run tells about itself: whether it sent a delta. */
export interface Attempt {
  delta: boolean;
}

/**
 * Runs `run`; when it fails with an {@linkcode IntegrityError} after trying
 * a delta, calls `say` and runs it again with `retry` over `options`
 * (`wholeFile` among them).
 */
export async function withWholeFileRetry(
  run: (options: TransferOptions, attempt: Attempt) => Promise<TransferResult>,
  options: TransferOptions,
  retry: Partial<TransferOptions>,
  say: () => void,
): Promise<TransferResult> {
  const attempt: Attempt = { delta: false };
  try {
    return await run(options, attempt);
  } catch (error) {
    if (!(error instanceof IntegrityError && attempt.delta)) throw error;
    say();
    return await run({ ...options, ...retry }, attempt);
  }
}
