/**
 * What the training loop's logging costs every `train.eval_every` steps, for one config's model
 * (random weights: the cost does not depend on them) on tfjs-wasm, one thread, as training logs:
 * the VLB/KL term (one forward of the ≤ 8-pair logging batch) and the perceptual loss
 * (src/train/perceptual.ts: one forward of the batch at its 3 noise levels, 24 rows, and the
 * domain extractor's features of those 24 images; the real images' features once, on the first
 * call), plus loading the extractor. Medians of 5 calls after the first; compare with the step
 * time the run's metrics.jsonl shows (steps_per_s).
 *
 *   node --import tsx bench/perceptual-logging.ts [configs/quickstart.yaml] [--cwd DIR-WITH-datasets/]
 */
import { loadConfig } from "../src/config/load.js";
import { initBackend } from "../src/engine/backend.js";
import { openDataset } from "../src/data/build.js";
import { loadTrainingSet } from "../src/train/load-training-set.js";
import { Tokenizer } from "../src/model/tokenizer.js";
import { initParams } from "../src/model/params.js";
import { modelParamSpecs } from "../src/model/model.js";
import { paramTensors, TfjsOps } from "../src/nn/tfjs-ops.js";
import { stepInputs } from "../src/train/step-inputs.js";
import { loggingDenoiser } from "../src/train/trainer.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { vlbOnBatch } from "../src/diffusion/vlb.js";
import { Rng } from "../src/engine/rng.js";
import { PerceptualProbe, perceptualNoise } from "../src/train/perceptual.js";
import { DomainExtractor } from "../src/metrics/domain/domain-extractor.js";

const args = process.argv.slice(2);
const cwdAt = args.indexOf("--cwd");
const cwd = cwdAt >= 0 ? args[cwdAt + 1] : process.cwd();
const configFile = args.find((a, i) => !a.startsWith("--") && (cwdAt < 0 || i !== cwdAt + 1)) ?? "configs/quickstart.yaml";
const { config } = loadConfig(configFile);
const model = config.model;
const R = model.resolution;
await initBackend("wasm", { threads: 1 });
const all = await loadTrainingSet(openDataset(config.dataset, { cwd }), R);
const tok = model.conditioning === "text" ? Tokenizer.build(all.captions.flat()) : null;
const ops = new TfjsOps(paramTensors(initParams(modelParamSpecs(model, tok?.size ?? 0), 1)));
const schedule = makeSchedule(config.diffusion);
const count = Math.min(8, all.n);
const rows = Array.from({ length: count }, (_, k) => k);
const inputs = stepInputs(all, model, tok, config.seed, -1, rows, rows, schedule.T, 0, false);
const denoise = loggingDenoiser(ops, model, inputs, count); // the trainer's own logging network
const vlbT = rows.map((k) => Math.floor(((k + 0.5) * schedule.T) / count));
const vlbNoise = new Rng(config.seed, "vlb").normals(count * R * R * 3);
let t0 = performance.now();
const domain = await DomainExtractor.load();
const loadMs = performance.now() - t0;
const probe = new PerceptualProbe((images) => domain.featureRows(images), inputs.x0, perceptualNoise(config.seed, count, R * R * 3), count, R, schedule, config.diffusion.prediction);
const vlb: number[] = [];
const perceptual: number[] = [];
for (let r = 0; r < 6; r++) {
  t0 = performance.now();
  await vlbOnBatch(denoise, inputs.x0, vlbNoise, vlbT, schedule, config.diffusion.prediction);
  const t1 = performance.now();
  await probe.measure(denoise);
  vlb.push(t1 - t0);
  perceptual.push(performance.now() - t1);
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  JSON.stringify({
    config: configFile,
    resolution: R,
    logging_batch: count,
    extractor_load_ms: Math.round(loadMs),
    first_call_ms: { vlb: Math.round(vlb[0]), perceptual: Math.round(perceptual[0]) },
    median_ms: { vlb: Math.round(median(vlb.slice(1))), perceptual: Math.round(median(perceptual.slice(1))) },
  }),
);
