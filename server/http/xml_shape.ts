/**
 * A linear pre-scan of XML request bodies that refuses shapes no WebDAV
 * client sends before xmldom sees them. xmldom's work grows with the square
 * of the nesting when each level declares a namespace (20,000 nested
 * `<a xmlns:b='u'>` took it 3-5 s on the one JavaScript thread both
 * front-ends share), and its per-element cost makes 250,000 empty elements in
 * 1 MiB take 0.5 s. Real bodies (a `propfind` with a few dozen property
 * names, a `propertyupdate`, a `lockinfo`) nest a handful of levels and
 * hold tens of elements; at the limits below xmldom takes tens of ms.
 *
 * The scan moves only forward through the text, so it costs one pass
 * whatever the input. It does not judge well-formedness (xmldom does that
 * next); it only counts.
 *
 * @module
 */

import { HttpError } from "./http_errors.ts";

/** Bounds of an XML request body's shape. */
export const XML_LIMITS = {
  /** Deepest nesting of elements. */
  depth: 32,
  /** Elements in the whole body. */
  elements: 1024,
  /** Attributes in the whole body, namespace declarations included. */
  attributes: 1024,
  /** Namespace declarations (`xmlns`, `xmlns:p`) in the whole body. */
  namespaces: 64,
} as const;

/**
 * Refuses `text` when it nests deeper, or holds more elements, attributes or
 * namespace declarations, than {@linkcode XML_LIMITS}, or carries a document
 * type declaration (which WebDAV never needs and which is where entity
 * tricks live).
 *
 * @throws {HttpError} 400 naming the limit that was passed.
 */
export function checkXmlShape(text: string): void {
  let depth = 0;
  let elements = 0;
  let attributes = 0;
  let namespaces = 0;
  let at = 0;
  while (true) {
    const open = text.indexOf("<", at);
    if (open < 0) return;
    const next = text[open + 1];
    if (next === "/") {
      depth--;
      at = open + 2;
    } else if (next === "?") {
      at = skipPast(text, "?>", open + 2);
    } else if (text.startsWith("<!--", open)) {
      at = skipPast(text, "-->", open + 4);
    } else if (text.startsWith("<![CDATA[", open)) {
      at = skipPast(text, "]]>", open + 9);
    } else if (next === "!") {
      throw new HttpError(400, "the XML body has a document type declaration");
    } else {
      const tag = scanTag(text, open + 1);
      at = tag.end;
      elements++;
      attributes += tag.attributes;
      namespaces += tag.namespaces;
      if (!tag.empty) depth++;
      if (depth > XML_LIMITS.depth) {
        refuse(`nests deeper than ${XML_LIMITS.depth} elements`);
      }
      if (elements > XML_LIMITS.elements) {
        refuse(`has more than ${XML_LIMITS.elements} elements`);
      }
      if (attributes > XML_LIMITS.attributes) {
        refuse(`has more than ${XML_LIMITS.attributes} attributes`);
      }
      if (namespaces > XML_LIMITS.namespaces) {
        refuse(`declares more than ${XML_LIMITS.namespaces} namespaces`);
      }
    }
  }
}

function refuse(what: string): never {
  throw new HttpError(400, `the XML body ${what}`);
}

/** The index just past the next `marker` from `from` (the end if none). */
function skipPast(text: string, marker: string, from: number): number {
  const end = text.indexOf(marker, from);
  return end < 0 ? text.length : end + marker.length;
}

/**
 * One start tag from just after its `<`: where it ends, whether it is
 * empty (`/>`), and its attributes and namespace declarations, counted by
 * the `=` signs outside quoted values and the names before them.
 */
function scanTag(
  text: string,
  from: number,
): { end: number; empty: boolean; attributes: number; namespaces: number } {
  let attributes = 0;
  let namespaces = 0;
  let quote = "";
  // The word being read and the last whole word, both outside quotes; each
  // character is sliced at most once, so the scan stays linear.
  let wordStart = from;
  let lastWord = "";
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (quote !== "") {
      if (c === quote) {
        quote = "";
        wordStart = i + 1;
      }
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === ">") {
      return { end: i + 1, empty: text[i - 1] === "/", attributes, namespaces };
    } else if (c === "=") {
      attributes++;
      const name = i > wordStart ? text.slice(wordStart, i) : lastWord;
      if (name === "xmlns" || name.startsWith("xmlns:")) namespaces++;
      wordStart = i + 1;
      lastWord = "";
    } else if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      if (i > wordStart) lastWord = text.slice(wordStart, i);
      wordStart = i + 1;
    }
  }
  return { end: text.length, empty: false, attributes, namespaces };
}
