/**
 * Just enough XML for S3's REST answers and the few request bodies fts
 * sends (CompleteMultipartUpload, DeleteObjects). S3 answers are flat,
 * generated documents without attributes that matter, CDATA or comments, so
 * a tag scanner is enough and keeps the backend free of an XML dependency.
 *
 * @module
 */

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

/** Decodes the five named entities and numeric character references. */
export function xmlDecode(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, name) => {
    if (name.startsWith("#x")) {
      return String.fromCodePoint(parseInt(name.slice(2), 16));
    }
    if (name.startsWith("#")) {
      return String.fromCodePoint(parseInt(name.slice(1), 10));
    }
    return ENTITIES[name] ?? whole;
  });
}

/** Escapes text for an element's content. */
export function xmlEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(
    />/g,
    "&gt;",
  );
}

/**
 * The raw inner XML of every `<tag>` element in `xml`, in document order
 * (`<tag/>` gives `""`). Elements of one tag must not nest, which holds for
 * every S3 answer fts reads.
 */
export function xmlBlocks(xml: string, tag: string): string[] {
  const pattern = new RegExp(
    `<${tag}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${tag}>)`,
    "g",
  );
  return [...xml.matchAll(pattern)].map((match) => match[1] ?? "");
}

/** The decoded text of the first `<tag>` element in `xml`, if any. */
export function xmlText(xml: string, tag: string): string | undefined {
  const [block] = xmlBlocks(xml, tag);
  return block === undefined ? undefined : xmlDecode(block);
}

/** The body of a CompleteMultipartUpload: part numbers and their ETags. */
export function completeXml(parts: [number, string][]): string {
  return `<CompleteMultipartUpload>${
    parts.map(([n, etag]) =>
      `<Part><PartNumber>${n}</PartNumber><ETag>${
        xmlEscape(etag)
      }</ETag></Part>`
    ).join("")
  }</CompleteMultipartUpload>`;
}
