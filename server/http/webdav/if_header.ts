/**
 * The WebDAV `If:` header (RFC 4918 §10.4): lists of state tokens and entity
 * tags, optionally tagged with a resource URL, each condition possibly
 * negated with `Not`. The header holds when any list holds; the tokens it
 * names are the lock tokens the client submits.
 *
 * @module
 */

import { HttpError } from "../http_errors.ts";

/** One condition of a list. */
export interface IfCondition {
  not: boolean;
  /** A state token (`opaquelocktoken:…`, `DAV:no-lock`), or undefined for an etag. */
  token?: string;
  etag?: string;
}

/** One parenthesised list, for the request URI (`resource` undefined) or a tagged one. */
export interface IfList {
  resource?: string;
  conditions: IfCondition[];
}

/**
 * Parses an `If:` header.
 *
 * @throws {HttpError} 400 when it is malformed.
 */
export function parseIf(header: string): IfList[] {
  const lists: IfList[] = [];
  let resource: string | undefined;
  let i = 0;
  const bad = () => new HttpError(400, "malformed If header");
  const skip = () => {
    while (i < header.length && /\s/.test(header[i])) i++;
  };
  const until = (close: string) => {
    const end = header.indexOf(close, i + 1);
    if (end < 0) throw bad();
    const text = header.slice(i + 1, end);
    i = end + 1;
    return text;
  };
  skip();
  while (i < header.length) {
    if (header[i] === "<") {
      resource = until(">");
    } else if (header[i] === "(") {
      i++;
      const conditions: IfCondition[] = [];
      while (true) {
        skip();
        if (header[i] === ")") {
          i++;
          break;
        }
        let not = false;
        if (header.slice(i, i + 3).toLowerCase() === "not") {
          not = true;
          i += 3;
          skip();
        }
        if (header[i] === "<") conditions.push({ not, token: until(">") });
        else if (header[i] === "[") conditions.push({ not, etag: until("]") });
        else throw bad();
      }
      if (conditions.length === 0) throw bad();
      lists.push({ resource, conditions });
    } else {
      throw bad();
    }
    skip();
  }
  if (lists.length === 0) throw bad();
  return lists;
}

/** Every state token an `If:` header names (the submitted lock tokens). */
export function submittedTokens(lists: IfList[]): Set<string> {
  const tokens = new Set<string>();
  for (const list of lists) {
    for (const c of list.conditions) {
      if (c.token !== undefined && !c.not) tokens.add(c.token);
    }
  }
  return tokens;
}
