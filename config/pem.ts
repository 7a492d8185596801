/**
 * PEM text and fingerprints of X.509 certificates, as both ends need them: the
 * server prints its certificate's fingerprint, the client pins it.
 *
 * @module
 */

const CERT_BEGIN = "-----BEGIN CERTIFICATE-----";
const CERT_END = "-----END CERTIFICATE-----";

/**
 * Returns the fingerprint of the first certificate in `certPem`, written like
 * OpenSSH writes key fingerprints: `SHA256:` and the unpadded base64 of the
 * SHA-256 digest of the certificate's DER bytes.
 *
 * @throws {Error} when `certPem` holds no PEM certificate.
 */
export async function certificateFingerprint(certPem: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", pemToDer(certPem));
  return "SHA256:" + new Uint8Array(digest).toBase64({ omitPadding: true });
}

/**
 * Returns the DER bytes of the first `CERTIFICATE` block in a PEM text.
 *
 * @throws {Error} when there is none or it is not valid base64.
 */
export function pemToDer(pem: string): Uint8Array<ArrayBuffer> {
  const begin = pem.indexOf(CERT_BEGIN);
  const end = begin < 0 ? -1 : pem.indexOf(CERT_END, begin);
  if (end < 0) throw new Error("no PEM certificate found");
  const body = pem.slice(begin + CERT_BEGIN.length, end).replace(/\s+/g, "");
  const der = Uint8Array.fromBase64(body);
  if (der.length === 0) throw new Error("empty PEM certificate");
  return der;
}

/** Returns the PEM text of a certificate given as DER bytes. */
export function derToPem(der: Uint8Array): string {
  return toPem(der, "CERTIFICATE");
}

/** Wraps DER bytes in a PEM block with `label`. */
export function toPem(der: Uint8Array, label: string): string {
  const lines = der.toBase64().match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${
    lines.join("\n")
  }\n-----END ${label}-----\n`;
}
