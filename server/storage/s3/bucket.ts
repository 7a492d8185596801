/**
 * Bucket-wide S3 calls the store and its uploads share: ListObjectsV2 page
 * by page, and DeleteObjects in batches.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { IoError } from "../../../protocol/errors.ts";
import type { S3Client } from "./client.ts";
import { xmlBlocks, xmlEscape, xmlText } from "./xml.ts";

/** One object as ListObjectsV2 describes it (no user metadata there). */
export interface ListedObject {
  key: string;
  size: number;
  /** ms since the epoch. */
  lastModified: number;
  etag: string;
}

/** One page of ListObjectsV2. */
export interface ListPage {
  objects: ListedObject[];
  /** Common prefixes (with the trailing delimiter), when a delimiter was given. */
  prefixes: string[];
}

/** DeleteObjects takes at most this many keys in one request. */
const DELETE_BATCH = 1000;

/**
 * Lists keys under `prefix`, page by page (1,000 keys a page). With
 * `delimiter: "/"` a page holds one folder level: objects and sub-prefixes.
 * Keys come URL-encoded from the store (`encoding-type=url`), so any byte a
 * key holds survives the XML.
 */
export async function* listObjects(
  client: S3Client,
  prefix: string,
  options: { delimiter?: string; maxKeys?: number; what?: string } = {},
): AsyncGenerator<ListPage> {
  let token: string | undefined;
  do {
    const query: Record<string, string> = {
      "list-type": "2",
      prefix,
      "encoding-type": "url",
    };
    if (options.delimiter) query.delimiter = options.delimiter;
    if (options.maxKeys) query["max-keys"] = String(options.maxKeys);
    if (token) query["continuation-token"] = token;
    const xml = await client.text({ method: "GET", query }, options.what);
    const key = (text: string | undefined) => decodeKey(text ?? "");
    yield {
      objects: xmlBlocks(xml, "Contents").map((block) => ({
        key: key(xmlText(block, "Key")),
        size: Number(xmlText(block, "Size") ?? 0),
        lastModified: Date.parse(xmlText(block, "LastModified") ?? "") || 0,
        etag: xmlText(block, "ETag") ?? "",
      })),
      prefixes: xmlBlocks(xml, "CommonPrefixes").map((block) =>
        key(xmlText(block, "Prefix"))
      ),
    };
    token = xmlText(xml, "IsTruncated") === "true"
      ? xmlText(xml, "NextContinuationToken")
      : undefined;
  } while (token && !options.maxKeys);
}

/** Deletes `keys` with DeleteObjects, 1,000 a request; missing keys are fine. */
export async function deleteKeys(
  client: S3Client,
  keys: string[],
  what = "",
): Promise<void> {
  for (let at = 0; at < keys.length; at += DELETE_BATCH) {
    const batch = keys.slice(at, at + DELETE_BATCH);
    const body = `<Delete><Quiet>true</Quiet>${
      batch.map((key) => `<Object><Key>${xmlEscape(key)}</Key></Object>`)
        .join("")
    }</Delete>`;
    const xml = await client.text({
      method: "POST",
      query: { delete: "" },
      headers: {
        "content-type": "application/xml",
        // DeleteObjects insists on a body checksum.
        "content-md5": createHash("md5").update(body).digest("base64"),
      },
      body,
    }, what);
    const failed = xmlBlocks(xml, "Error");
    if (failed.length) {
      const code = xmlText(failed[0], "Code") ?? "";
      throw new IoError(
        `the object store did not delete ${failed.length} objects (${code})`,
      );
    }
  }
}

/** Decodes a key of an `encoding-type=url` listing (`+` is a space there). */
function decodeKey(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return text;
  }
}
