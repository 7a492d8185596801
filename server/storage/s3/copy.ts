/**
 * Server-side copies of one object: CopyObject up to 5 GiB (S3's limit for
 * one request), a multipart copy (UploadPartCopy of byte ranges) above it.
 * Used by move, copy and by changes of an object's metadata (a copy onto
 * itself with new metadata is the only way S3 has to change it).
 *
 * @module
 */

import { copySource, type S3Client } from "./client.ts";
import { completeXml, xmlText } from "./xml.ts";

const MiB = 1024 * 1024;

/** When a copy goes multipart, and in what pieces. */
export interface CopyTuning {
  /** Largest object copied with one CopyObject (S3: 5 GiB). */
  singleLimit: number;
  /** Bytes per UploadPartCopy (S3: 5 MiB to 5 GiB). */
  partSize: number;
  /** Parts copied at the same time. */
  concurrency: number;
}

/** S3's own limits; 512 MiB parts keep a 5 TiB object under 10,000 parts. */
export const DEFAULT_COPY: CopyTuning = {
  singleLimit: 5 * 1024 * MiB,
  partSize: 512 * MiB,
  concurrency: 4,
};

/** One object copy. */
export interface CopyRequest {
  from: string;
  to: string;
  /** Remote path for messages. */
  what: string;
  /** Size of the source. */
  size: number;
  /**
   * Metadata for the copy (content type and `x-amz-meta-*`), replacing the
   * source's; without it the source's metadata is kept.
   */
  meta?: Record<string, string>;
}

/** The content type and user metadata of an object, from its HEAD. */
export function metadataOf(headers: Headers): Record<string, string> {
  const meta: Record<string, string> = {
    "content-type": headers.get("content-type") ?? "application/octet-stream",
  };
  for (const [name, value] of headers) {
    if (name.startsWith("x-amz-meta-")) meta[name] = value;
  }
  return meta;
}

/** Copies one object inside the client's bucket; returns the copy's ETag. */
export async function copyObject(
  client: S3Client,
  request: CopyRequest,
  tuning: CopyTuning = DEFAULT_COPY,
): Promise<string> {
  const { from, to, what, size } = request;
  if (size <= tuning.singleLimit) {
    const headers: Record<string, string> = {
      "x-amz-copy-source": copySource(client, from),
    };
    if (request.meta) {
      Object.assign(headers, request.meta, {
        "x-amz-metadata-directive": "REPLACE",
      });
    }
    const answer = await client.text({ method: "PUT", key: to, headers }, what);
    client.checkAnswer(answer, what);
    return xmlText(answer, "ETag") ?? "";
  }
  let meta = request.meta;
  if (!meta) {
    const head = await client.send({ method: "HEAD", key: from }, what);
    meta = metadataOf(head.headers);
  }
  const created = await client.text({
    method: "POST",
    key: to,
    query: { uploads: "" },
    headers: meta,
  }, what);
  const uploadId = xmlText(created, "UploadId") ?? "";
  try {
    const ranges: [number, number][] = [];
    for (let at = 0; at < size; at += tuning.partSize) {
      ranges.push([at, Math.min(size, at + tuning.partSize) - 1]);
    }
    const etags: string[] = new Array(ranges.length);
    let next = 0;
    const worker = async () => {
      while (next < ranges.length) {
        const index = next++;
        const [first, last] = ranges[index];
        const answer = await client.text({
          method: "PUT",
          key: to,
          query: { partNumber: String(index + 1), uploadId },
          headers: {
            "x-amz-copy-source": copySource(client, from),
            "x-amz-copy-source-range": `bytes=${first}-${last}`,
          },
        }, what);
        client.checkAnswer(answer, what);
        etags[index] = xmlText(answer, "ETag") ?? "";
      }
    };
    await Promise.all(
      Array.from(
        { length: Math.min(tuning.concurrency, ranges.length) },
        worker,
      ),
    );
    const answer = await client.text({
      method: "POST",
      key: to,
      query: { uploadId },
      headers: { "content-type": "application/xml" },
      body: completeXml(etags.map((etag, i) => [i + 1, etag])),
    }, what);
    client.checkAnswer(answer, what);
    return xmlText(answer, "ETag") ?? "";
  } catch (error) {
    await client.send({
      method: "DELETE",
      key: to,
      query: { uploadId },
      accept: [404],
    }).catch(() => {});
    throw error;
  }
}
