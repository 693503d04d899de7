/**
 * A fingerprint of the model parameters, so the ranks of a data-parallel run can check now and
 * then that their copies are still identical (they must be: every rank applies the same
 * all-reduced update).
 */
import { createHash } from "node:crypto";

/** sha256 (hex) of the raw float32 bytes of every buffer, in order (host byte order: little-endian). */
export function paramsDigest(buffers: readonly Float32Array[]): string {
  const hash = createHash("sha256");
  for (const b of buffers) hash.update(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  return hash.digest("hex");
}
