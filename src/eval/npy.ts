/**
 * Feature matrices saved as NumPy .npy files (format version 1.0, little-endian float64,
 * C order, n × d), so every FID/KID in a report can be recomputed from the files with
 * `diffx fid A.npy B.npy` or numpy. Written atomically.
 */
import { writeFileAtomic } from "../engine/atomic.js";
import type { FeatureRows } from "../metrics/feature-rows.js";

export function encodeNpy(rows: FeatureRows): Uint8Array {
  const n = rows.length;
  const d = n > 0 ? rows[0].length : 0;
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': (${n}, ${d}), }`;
  // magic (6) + version (2) + header length (2) + header, padded with spaces and ending in \n,
  // to a multiple of 64 bytes so the data is aligned
  const unpadded = 10 + header.length + 1;
  header = header + " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + header.length + n * d * 8);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const view = new DataView(out.buffer, 10 + header.length);
  rows.forEach((row, i) => {
    if (row.length !== d) throw new RangeError(`npy: row ${i + 1} has ${row.length} values, row 1 has ${d}`);
    for (let j = 0; j < d; j++) view.setFloat64((i * d + j) * 8, row[j], true);
  });
  return out;
}

export function writeNpy(file: string, rows: FeatureRows): void {
  writeFileAtomic(file, encodeNpy(rows));
}
