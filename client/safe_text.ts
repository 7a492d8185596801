/**
 * Makes text a server sent safe to print on a terminal (cf. CVE-2019-6109):
 * a file name or an error reason must never move the cursor, retitle the
 * window or clear the screen. Every control character is shown as a visible
 * escape instead.
 *
 * @module
 */

// C0 controls, DEL, C1 controls (0x9b is a one-byte CSI on some terminals),
// and the bidirectional overrides that can make a name read backwards.
// deno-lint-ignore no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

// What JSON.stringify leaves raw (it escapes C0 controls itself).
const BEYOND_JSON = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = {
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\x1b": "\\e",
};

/**
 * `text` with every control character replaced by a visible escape
 * (`\e`, `\n`, `\r`, `\t`, else `\xNN` or `\u{NNNN}`).
 *
 * @example
 * ```ts
 * safeText("a\x1b]0;owned\x07.txt"); // "a\\e]0;owned\\x07.txt"
 * ```
 */
export function safeText(text: string): string {
  return text.replace(UNSAFE, (char) => {
    const named = NAMED[char];
    if (named) return named;
    const code = char.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u{${code.toString(16)}}`;
  });
}

/**
 * JSON of `value` (indented) that is safe on a terminal: `JSON.stringify`
 * already escapes C0 controls; this escapes the rest as `\uNNNN`, so the
 * output stays valid JSON with the same meaning.
 */
export function safeJson(value: unknown, indent = 2): string {
  return JSON.stringify(value, null, indent).replace(
    BEYOND_JSON,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
