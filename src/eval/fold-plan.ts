/**
 * The folds of an eval: k pair-preserving, stratified folds of the dataset (src/data/folds.ts,
 * a pure function of dataset hash, k and seed), checked for what FID/KID need: every fold holds
 * out at least 2 pairs.
 */
import { defaultStratifyKey, kFold, trainIndices } from "../data/folds.js";
import type { Dataset } from "../data/dataset.js";
import { UsageError } from "../errors.js";

export interface FoldPlan {
  k: number;
  seed: number;
  stratify: string | null;
  nGroups: number;
  /** Per fold: dataset rows held out (sorted). */
  heldOut: number[][];
  /** Per fold: dataset rows trained on (sorted). */
  train: number[][];
}

/**
 * Split `ds` into `k` folds. `source` names where k came from ("--folds" or "eval.folds") in
 * error messages.
 */
export function planFolds(ds: Dataset, k: number, seed: number, stratifyConfig: string | undefined, source: string): FoldPlan {
  if (!Number.isInteger(k) || k < 2) throw new UsageError(`${source} ${k}: k-fold cross-validation needs at least 2 folds`);
  const nGroups = new Set(ds.pairs.map((p) => p.group)).size;
  if (k > nGroups) {
    throw new UsageError(`${source} ${k}: the dataset ${ds.dir} has only ${nGroups} pair group${nGroups === 1 ? "" : "s"} (pairs sharing a group stay in one fold); use at most ${nGroups} folds`);
  }
  const stratify = defaultStratifyKey(ds.kind, ds.pairs, stratifyConfig);
  const heldOut = kFold(ds.pairs, k, seed, stratify, ds.hash);
  heldOut.forEach((rows, i) => {
    if (rows.length < 2) {
      throw new UsageError(`${source} ${k}: fold ${i} would hold out only ${rows.length} pair${rows.length === 1 ? "" : "s"} of the ${ds.pairs.length}; FID/KID need at least 2 held-out images per fold, so use at most ${Math.floor(ds.pairs.length / 2)} folds`);
    }
  });
  return { k, seed, stratify, nGroups, heldOut, train: heldOut.map((_, i) => trainIndices(heldOut, i)) };
}
