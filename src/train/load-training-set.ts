/** A dataset folder → the in-memory TrainingSet at the model's resolution (via the data loader). */
import type { Dataset } from "../data/dataset.js";
import { loadPairArrays } from "../data/loader.js";
import type { TrainingSet } from "./training-set.js";

export async function loadTrainingSet(ds: Dataset, R: number): Promise<TrainingSet> {
  const a = loadPairArrays(ds, R);
  return {
    n: a.count,
    images: a.images,
    sketches: a.sketches ?? undefined,
    captions: a.captions.map((en, i) => [en, a.captionsZh[i]].filter((c) => c.length > 0)),
    ids: a.ids,
  };
}
