/**
 * The training data as the loop needs it: pairs at the model's resolution, in memory.
 * Rows are pairs; images NHWC in [-1, 1]; sketches 1-channel in [-1, 1]; captions per pair
 * in every language the dataset has (English first).
 */
export interface TrainingSet {
  n: number;
  /** n × R × R × 3 */
  images: Float32Array;
  /** n × R × R (sketch models) */
  sketches?: Float32Array;
  /** per pair: [English, Chinese] (text models) */
  captions: string[][];
  /** pair ids, for the record */
  ids: string[];
}

/** The rows `rows` of a training set (a fold's training or held-out part). */
export function subset(set: TrainingSet, rows: readonly number[], R: number): TrainingSet {
  const size = R * R * 3;
  const images = new Float32Array(rows.length * size);
  const sketches = set.sketches ? new Float32Array(rows.length * R * R) : undefined;
  rows.forEach((r, k) => {
    images.set(set.images.subarray(r * size, (r + 1) * size), k * size);
    if (sketches && set.sketches) sketches.set(set.sketches.subarray(r * R * R, (r + 1) * R * R), k * R * R);
  });
  return { n: rows.length, images, sketches, captions: rows.map((r) => set.captions[r]), ids: rows.map((r) => set.ids[r]) };
}
