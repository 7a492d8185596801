/**
 * A delta body turned into the plain body of the file it describes: the
 * instructions are applied to the receiver's old version as the returned
 * body is read. A tree's receiver (either end) then stages, verifies and
 * commits the file like any other. When the old version is gone or changed,
 * the returned body fails with an error in its trailer, so that file alone
 * fails; the delta is still read to its end and the connection stays in
 * step.
 *
 * @module
 */

import type { Body } from "../../protocol/message_reader.ts";
import {
  type ErrorCode,
  IoError,
  ProtocolError,
} from "../../protocol/errors.ts";
import type { Trailer } from "../../protocol/messages.ts";
import { applyDelta, type OldVersion } from "./delta_apply.ts";
import { type DeltaStats, emptyStats } from "./delta_ops.ts";

/** The receiver's old version, opened for one delta. */
export interface OldSource {
  file: OldVersion;
  /** Where its chunks start, with its length last. */
  offsets: Float64Array;
  /** Whether it is still the version summarised. */
  unchanged(): Promise<boolean>;
  close(): void;
}

/**
 * The plain body of the file `body` describes against the old version that
 * `open` opens (null: it is gone); `changed` is the reason a file fails
 * with when its old version changed.
 */
export function rebuiltBody(
  body: Body,
  open: () => Promise<OldSource | null>,
  changed: string,
  stats: DeltaStats = emptyStats(),
): Body {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>(
    undefined,
    { highWaterMark: 4 },
  );
  const writer = writable.getWriter();
  const trailer = rebuild(body, open, stats, async (bytes) => {
    await writer.ready;
    await writer.write(bytes.slice());
  }).then(
    async (sent) => {
      await writer.close();
      return sent;
    },
    async (error) => {
      await writer.abort(error).catch(() => {});
      if (!(error instanceof IoError)) throw error;
      return { error: { code: "io" as ErrorCode, reason: changed } };
    },
  );
  trailer.catch(() => {});
  return { stream: readable, trailer };
}

async function rebuild(
  body: Body,
  open: () => Promise<OldSource | null>,
  stats: DeltaStats,
  sink: (bytes: Uint8Array) => Promise<void>,
): Promise<Trailer> {
  const old = await open().catch(() => null);
  try {
    if (!old) throw new IoError("the old version is gone");
    try {
      await applyDelta(
        body.stream.values({ preventCancel: true }),
        old.file,
        old.offsets,
        sink,
        stats,
      );
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      throw new IoError("the old version changed");
    }
    if (!await old.unchanged()) throw new IoError("the old version changed");
    return await body.trailer;
  } catch (error) {
    if (error instanceof IoError) {
      // Read the rest of the delta, so the connection stays in step.
      for await (const _ of body.stream) { /* dropped */ }
      await body.trailer.catch(() => {});
    }
    throw error;
  } finally {
    old?.close();
  }
}
