/**
 * The fts wire format: frames, messages and their encoders and decoders. No
 * sockets and no files live here; the streams come from the caller.
 *
 * @module
 */

export * from "./buffer_pool.ts";
export * from "./errors.ts";
export * from "./frame.ts";
export * from "./frame_batch.ts";
export * from "./frame_decoder.ts";
export * from "./frame_encoder.ts";
export * from "./messages.ts";
export * from "./message_reader.ts";
export * from "./message_writer.ts";
