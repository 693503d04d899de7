/**
 * The real-vs-real floor of a fold: FID and KID between two disjoint sets of real images of the
 * cell's sizes, with the same extractor, resolution and preprocessing. Set a is the fold's
 * held-out pairs (the real side of every cell); set b is n_b of the fold's training pairs
 * (n_b = samples_per_fold, or all training pairs when there are fewer), chosen by a seeded
 * permutation. A generator cannot be expected to score below this at this n: FID is biased
 * upwards at small n, so even a perfect generator scores about the floor, and a score near the
 * floor of a metric that also scores noise near it says little.
 */
import * as path from "node:path";
import { writePng } from "../engine/image.js";
import { Rng } from "../engine/rng.js";
import type { FeatureExtractor } from "../metrics/extractor.js";
import { fid } from "../metrics/fid.js";
import { kid } from "../metrics/kid.js";
import { KID_SETTINGS } from "./cell.js";
import type { HeldOut, HeldOutLoader } from "./held-out.js";
import { writeNpy } from "./npy.js";

export interface RealFloor {
  fid: number;
  kid: number;
  /** Held-out real images (the cells' real side). */
  n_a: number;
  /** Training-pair real images compared with them (the cells' generated side's size, at most). */
  n_b: number;
  /** Pair ids of the n_b training images (PNGs and features in fold-<i>/floor-<R>px/). */
  b_ids: string[];
}

export const FLOOR_RULE =
  "per fold: FID and KID between the fold's held-out real images (n_a) and n_b = min(samples_per_fold, n_train) of its training pairs' real images " +
  "(first n_b of a permutation by Rng(seed, 'eval-floor', fold); their ids in b_ids, images and features in fold-<i>/floor-<R>px/), at the first variant's model resolution, same extractor and KID settings as the cells";

export interface FloorJob {
  evalDir: string;
  fold: number;
  heldOut: HeldOut;
  trainRows: readonly number[];
  nB: number;
  loader: HeldOutLoader;
  extractor: FeatureExtractor;
  seed: number;
  statsSeed: number;
}

/** Training rows used for fold `fold`'s floor. */
export function floorRows(trainRows: readonly number[], nB: number, seed: number, fold: number): number[] {
  const rows = new Rng(seed, "eval-floor", fold).shuffle([...trainRows]);
  return rows.slice(0, Math.min(nB, rows.length));
}

export async function realFloor(job: FloorJob): Promise<RealFloor> {
  const R = job.heldOut.resolution;
  const rows = floorRows(job.trainRows, job.nB, job.seed, job.fold);
  const a = await job.extractor.extract(job.heldOut.images);
  const images = await job.loader.images(rows, R);
  const ids = rows.map((r) => job.loader.pairId(r));
  const dir = path.join(job.evalDir, `fold-${job.fold}`, `floor-${R}px`);
  images.forEach((img, k) => writePng(path.join(dir, `${ids[k]}.png`), img));
  const b = await job.extractor.extract(images);
  writeNpy(path.join(dir, "features.npy"), b);
  const k = kid(a, b, { subsets: KID_SETTINGS.subsets, subsetSize: KID_SETTINGS.subsetSize, seed: job.statsSeed });
  return { fid: fid(a, b), kid: k.kid, n_a: a.length, n_b: b.length, b_ids: ids };
}
