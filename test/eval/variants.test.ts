import { test } from "node:test";
import assert from "node:assert/strict";
import { configSchema } from "../../src/config/schema.js";
import { explicitOverrides, resolveVariants, foldTrainingConfig } from "../../src/eval/variants.js";
import { configHash } from "../../src/config/load.js";
import { UsageError } from "../../src/errors.js";

function config(variants: unknown[]) {
  return configSchema.parse({
    name: "exp",
    sample: { sampler: "ddim", steps: 10, guidance: 2 },
    train: { steps: 50 },
    eval: { samples_per_fold: 8, variants },
  });
}

test("a sampling-only variant reuses the base training and keeps the base's other sampling keys", () => {
  const { variants, trainings } = resolveVariants(config([{ name: "base" }, { name: "few-steps", sample: { steps: 2 } }]));
  assert.deepEqual(trainings.map((t) => [t.name, t.variants]), [["train", ["base", "few-steps"]]]);
  const v = variants[1];
  assert.equal(v.training, "train");
  assert.deepEqual([v.config.sample.sampler, v.config.sample.steps, v.config.sample.guidance], ["ddim", 2, 2]);
  assert.deepEqual(v.overrides, { sample: { steps: 2 } });
  // the training config does not carry sampling or eval settings, so changing them never retrains
  assert.equal(configHash(trainings[0].config), configHash(resolveVariants(config([{ name: "other", sample: { steps: 7 } }])).trainings[0].config));
});

test("variants that change training get their own training; identical ones share it", () => {
  const { variants, trainings } = resolveVariants(
    config([{ name: "a" }, { name: "long", train: { steps: 80 } }, { name: "long-ddpm", train: { steps: 80 }, sample: { sampler: "ddpm" } }, { name: "v-pred", diffusion: { prediction: "v" } }]),
  );
  assert.deepEqual(trainings.map((t) => [t.name, t.variants]), [["train", ["a"]], ["train-long", ["long", "long-ddpm"]], ["train-v-pred", ["v-pred"]]]);
  assert.equal(variants[2].training, "train-long");
  assert.equal(variants[2].config.train.steps, 80);
  assert.equal(variants[3].config.diffusion.prediction, "v");
  assert.equal(foldTrainingConfig(trainings[1], "exp", 3).name, "exp-fold3-long");
  assert.equal(foldTrainingConfig(trainings[0], "exp", 0).name, "exp-fold0");
});

test("variant names that would clash with fold folders, or repeat, are usage errors", () => {
  for (const name of ["train", "train-x", "real", "real-8px", "sketches", "a b", "../up"]) {
    assert.throws(() => resolveVariants(config([{ name }])), UsageError, name);
  }
  assert.throws(() => resolveVariants(config([{ name: "a" }, { name: "a" }])), /used by two variants/);
});

test("explicitOverrides: a section the schema filled with defaults keeps only the non-default keys", () => {
  const filled = configSchema.parse({ eval: { variants: [{ name: "x", sample: { steps: 3 } }] } }).eval.variants[0].sample as Record<string, unknown>;
  assert.deepEqual(explicitOverrides("sample", filled), { steps: 3 });
  // a section given without defaults filled in is taken as it is
  assert.deepEqual(explicitOverrides("sample", { steps: 25, sampler: "dpmpp" }), { steps: 25, sampler: "dpmpp" });
  assert.deepEqual(explicitOverrides("train", undefined), {});
});
