/**
 * Feature matrices in memory: one Float64Array per sample (row), all the same length.
 * The checks here are shared by FID, KID, feature files and extractors, so every caller
 * gets the same clear error naming the source and the row.
 */
import { UsageError } from "../errors.js";

/** n samples × d features, one row per sample. */
export type FeatureRows = readonly Float64Array[];

/**
 * Check that `rows` is a usable feature matrix (at least 2 samples, equal row lengths, at
 * least 1 feature, only finite values) and return its dimension. `label` names the source
 * (a file path, "a", "generated images"…) in the error message; rows are numbered from 1.
 */
export function checkFeatureRows(rows: FeatureRows, label: string): number {
  if (rows.length < 2) throw new UsageError(`${label}: ${rows.length} sample${rows.length === 1 ? "" : "s"}; FID/KID need at least 2 samples per set`);
  const dims = rows[0].length;
  if (dims < 1) throw new UsageError(`${label}: row 1 has no features`);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    if (row.length !== dims) throw new UsageError(`${label}: row ${r + 1} has ${row.length} features, row 1 has ${dims}`);
    for (let c = 0; c < dims; c++) {
      if (!Number.isFinite(row[c])) throw new UsageError(`${label}: row ${r + 1}, column ${c + 1}: value is ${row[c]} (features must be finite numbers)`);
    }
  }
  return dims;
}

/** Check both sets and that they have the same dimension; returns it. */
export function checkFeaturePair(a: FeatureRows, b: FeatureRows, labelA = "a", labelB = "b"): number {
  const da = checkFeatureRows(a, labelA);
  const db = checkFeatureRows(b, labelB);
  if (da !== db) throw new UsageError(`${labelA} has ${da} features per sample but ${labelB} has ${db}; both sets must come from the same feature extractor`);
  return da;
}
