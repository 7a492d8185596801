/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />
/**
 * `Uint8Array.prototype.toBase64` and `Uint8Array.fromBase64` for browsers
 * older than 2025, which lack them: protocol/scram.ts, which the page shares
 * with the server and the command line, uses both, and the page login must
 * work on the phones people still carry.
 *
 * @module
 */

type Base64Array = Uint8Array & { toBase64?: () => string };
const proto = Uint8Array.prototype as Base64Array;
const ctor = Uint8Array as unknown as {
  fromBase64?: (text: string) => Uint8Array;
};

if (typeof proto.toBase64 !== "function") {
  Object.defineProperty(Uint8Array.prototype, "toBase64", {
    configurable: true,
    writable: true,
    value(this: Uint8Array): string {
      let binary = "";
      for (let i = 0; i < this.length; i += 0x8000) {
        binary += String.fromCharCode(...this.subarray(i, i + 0x8000));
      }
      return btoa(binary);
    },
  });
}

if (typeof ctor.fromBase64 !== "function") {
  Object.defineProperty(Uint8Array, "fromBase64", {
    configurable: true,
    writable: true,
    value(text: string): Uint8Array {
      const binary = atob(text);
      const bytes = new Uint8Array(binary.length);
      for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
      return bytes;
    },
  });
}
