import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { configSchema } from "../../src/config/schema.js";
import { trainedParameters, variantParameters } from "../../src/eval/build-report.js";
import { RUN_FILES } from "../../src/runs/folder.js";
import { RUN_MANIFEST_FORMAT } from "../../src/runs/manifest.js";
import type { TrainJob } from "../../src/eval/train-jobs.js";

/** A fold training's folder holding only a manifest with the trainer's parameter counts. */
function job(fold: number, name: string, steps: number, trainable: number, total: number, root: string): { job: TrainJob; reused: boolean } {
  const dir = path.join(root, `fold-${fold}`, name);
  fs.mkdirSync(dir, { recursive: true });
  const parameters = { trainable, total, ratio: trainable / total, model: total, fraction_of_full: trainable / total, adapter: null };
  fs.writeFileSync(path.join(dir, RUN_FILES.manifest), JSON.stringify({ format: RUN_MANIFEST_FORMAT, outputs: {}, parameters }));
  const config = configSchema.parse({ name: "exp", train: { steps } });
  return { job: { fold, name, dir, rel: `fold-${fold}/${name}`, configFile: "", config, split: { train: [], held_out: [] } }, reused: false };
}

test("a train.steps 0 training and its variant report 0 trained parameters and say nothing was trained; a full fine-tune reports its counts", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "diffx-params-"));
  // the trainer records what the model *could* train (every parameter, 1000 or 1010 with a fold's extra words)
  const jobs = [job(0, "train", 300, 1000, 1000, root), job(1, "train", 300, 1010, 1010, root), job(0, "train-base", 0, 1000, 1000, root), job(1, "train-base", 0, 1010, 1010, root)];
  assert.deepEqual(variantParameters({ training: "train" }, jobs), { trainable: [1000, 1010], total: [1000, 1010], ratio: [1, 1], adapter: null });
  assert.deepEqual(variantParameters({ training: "train-base" }, jobs), { trainable: [0, 0], total: [1000, 1010], ratio: [0, 0], adapter: "none (train.steps 0: nothing trained)" });
  // the training table's row for each fold training
  assert.deepEqual([jobs[0], jobs[3]].map(({ job }) => [trainedParameters(job)?.trainable, trainedParameters(job)?.total]), [[1000, 1000], [0, 1010]]);
  fs.rmSync(root, { recursive: true, force: true });
});
