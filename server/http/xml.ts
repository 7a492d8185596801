/**
 * The bits of XML WebDAV needs: a strict, namespace-aware parse of request
 * bodies (`@xmldom/xmldom`; unbound prefixes and malformed XML are 400),
 * bounded in size, arrival time and shape before xmldom runs; serialising
 * a property element with its namespace declarations; escaping text so any
 * name stays valid XML; and `207 Multi-Status` answers, streamed for
 * listings.
 *
 * @module
 */

import { DOMParser, XMLSerializer } from "@xmldom/xmldom";
import { HttpError } from "./http_errors.ts";
import { readLimitedText } from "./request_body.ts";
import { checkXmlShape } from "./xml_shape.ts";

/** The WebDAV namespace. */
export const DAV = "DAV:";

/** A parsed XML element (xmldom's, typed loosely: the package is JS-first). */
export interface XmlElement {
  namespaceURI: string | null;
  localName: string;
  childNodes: ArrayLike<XmlNode>;
  textContent: string | null;
}
/** Any XML node. */
export interface XmlNode {
  nodeType: number;
}

const ELEMENT_NODE = 1;

/**
 * Longest XML request body accepted (PROPFIND, PROPPATCH, LOCK): dead
 * properties are capped at 64 KiB a resource, so no real body comes near.
 */
export const MAX_XML_BODY = 256 * 1024;

/**
 * The document element of an XML request body, or null for an empty body.
 * The body must arrive within `deadlineMs`, and its shape is checked by a
 * linear pre-scan (see `xml_shape.ts`) before xmldom parses it.
 *
 * @throws {HttpError} 400 for malformed XML or a refused shape, 408 for a
 * body that stalls, 413 for a body over the limit.
 */
export async function readXmlBody(
  request: Request,
  deadlineMs: number,
): Promise<XmlElement | null> {
  const text = await readLimitedText(request, MAX_XML_BODY, deadlineMs);
  if (text.trim() === "") return null;
  checkXmlShape(text);
  try {
    const parser = new DOMParser({
      onError: (level: string, message: string) => {
        if (level !== "warning") throw new Error(message);
      },
    });
    const doc = parser.parseFromString(text, "application/xml");
    return doc.documentElement as unknown as XmlElement;
  } catch {
    throw new HttpError(400, "the request body is not well-formed XML");
  }
}

/** The element children of `node`. */
export function childElements(node: XmlElement): XmlElement[] {
  return Array.from(node.childNodes).filter((n) =>
    n.nodeType === ELEMENT_NODE
  ) as unknown as XmlElement[];
}

/** Whether `node` is `DAV:name`. */
export function isDav(node: XmlElement, name: string): boolean {
  return node.namespaceURI === DAV && node.localName === name;
}

/** The key of a property name: `{namespace}local`. */
export function propertyKey(node: XmlElement): string {
  return `{${node.namespaceURI ?? ""}}${node.localName}`;
}

/** Serialises an element with the namespace declarations it needs. */
export function serialize(node: XmlElement | XmlNode): string {
  // deno-lint-ignore no-explicit-any
  return new XMLSerializer().serializeToString(node as any);
}

/** What `escapeXml` replaces, with the characters XML 1.0 cannot carry. */
const XML_SPECIAL =
  // deno-lint-ignore no-control-regex -- XML 1.0 cannot carry these
  /[<>&"']|[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|\p{Cs}/gu;

const ENTITIES: Record<string, string> = {
  "<": "&lt;",
  ">": "&gt;",
  "&": "&amp;",
  '"': "&quot;",
  "'": "&apos;",
};

/**
 * Escapes text for XML content and attribute values. Characters XML 1.0
 * cannot carry at all, not even as references (control characters, lone
 * surrogates), become U+FFFD, so a listing stays valid XML whatever names
 * older files have.
 */
export function escapeXml(text: string): string {
  return text.replace(XML_SPECIAL, (c) => ENTITIES[c] ?? "\ufffd");
}

/** An empty element for property key `{ns}local`, declaring its namespace. */
export function emptyElementOf(key: string): string {
  const close = key.indexOf("}");
  const ns = key.slice(1, close);
  const local = key.slice(close + 1);
  return ns === DAV
    ? `<D:${local}/>`
    : `<X:${local} xmlns:X="${escapeXml(ns)}"/>`;
}

const MULTISTATUS_HEAD =
  `<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">`;
const MULTISTATUS_TAIL = "</D:multistatus>\n";
/** Characters gathered before a piece of a streamed multistatus is sent. */
const PIECE = 64 * 1024;

/** The `207 Multi-Status` head of a response. */
const MULTISTATUS_INIT = {
  status: 207,
  headers: { "content-type": "application/xml; charset=utf-8" },
};

/** A `207 Multi-Status` response around `responses` (each a `D:response`). */
export function multistatus(responses: string[]): Response {
  return new Response(
    MULTISTATUS_HEAD + responses.join("") + MULTISTATUS_TAIL,
    MULTISTATUS_INIT,
  );
}

/**
 * A `207 Multi-Status` response whose `D:response`s are made as the client
 * reads, about 64 KiB at a time: a listing of a large folder never builds
 * one huge string on the thread both front-ends share, and other requests
 * are served between its pieces. A client that reads nothing for `idleMs`
 * is cut off, as for file downloads.
 */
export function streamedMultistatus(
  responses: Iterable<string>,
  idleMs: number,
): Response {
  const encoder = new TextEncoder();
  const iterator = responses[Symbol.iterator]();
  let head = MULTISTATUS_HEAD;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      clearTimeout(timer);
      let piece = head;
      head = "";
      while (piece.length < PIECE) {
        const next = iterator.next();
        if (next.done) {
          controller.enqueue(encoder.encode(piece + MULTISTATUS_TAIL));
          controller.close();
          return;
        }
        piece += next.value;
      }
      controller.enqueue(encoder.encode(piece));
      timer = setTimeout(() => {
        controller.error(new Error("the client stopped reading"));
      }, idleMs);
    },
    cancel() {
      clearTimeout(timer);
    },
  });
  return new Response(body, MULTISTATUS_INIT);
}

/** The reason phrase used in `D:status` lines. */
export function statusLine(status: number): string {
  const text: Record<number, string> = {
    200: "OK",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    424: "Failed Dependency",
    423: "Locked",
  };
  return `HTTP/1.1 ${status} ${text[status] ?? ""}`;
}
