/**
 * `diffx features train`: train the domain network on its procedural reference set and write
 * the weights folder (model-file.ts). Everything is seeded (initialisation, batch order,
 * views, mirroring), so the same diffx on the same backend writes bit-identical weights.
 *
 * Loss: for every head, the mean cross-entropy over the batch images of the head's generator
 * (the domain head: all images); the heads' losses are summed. Optimiser: Adam with linear
 * warm-up and cosine decay. Augmentation (AUGMENTATION_TEXT): a random view (source size),
 * mirror and small shift per image and step; none changes an attribute the heads predict
 * (the shift moves a subject at most 4 px; subjects keep clear of the border).
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, type BackendReport, type BackendRequest } from "../../engine/backend.js";
import { Rng } from "../../engine/rng.js";
import { silentProgress, type ProgressSink } from "../../engine/progress.js";
import { RuntimeFailure } from "../../errors.js";
import { countParams, initParams, type ParamMap } from "../../model/params.js";
import { disposeTensors, hostParams, paramVariables, TfjsOps } from "../../nn/tfjs-ops.js";
import { HEADS, labelOf } from "./heads.js";
import { TRAIN_DEFAULTS } from "./train-defaults.js";
import { MODEL_FORMAT, writeDomainModel, type DomainModelMeta, type HeadDef } from "./model-file.js";
import { ARCHITECTURE, FEATURE_DIMS, features, headLogits, INPUT_CHANNELS, INPUT_SIZE, networkSpecs } from "./network.js";
import { augmentInto, INPUT_VOLUME, NORMALIZATION, RESIZE_RULE, type Augmentation } from "./preprocess.js";
import { buildReferenceSet, GENERATION_SIZE, REFERENCE_SEEDS, VIEW_SIZES, VIEW_TEXT, type ReferenceImage, type ReferenceSet } from "./reference-set.js";

const ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

export interface TrainDomainOptions {
  outDir: string;
  diffxVersion: string;
  steps?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  trainImages?: number;
  heldoutImages?: number;
  backend?: BackendRequest;
  threads?: "auto" | number;
  progress?: ProgressSink;
}

export interface TrainDomainResult {
  meta: DomainModelMeta;
  backend: BackendReport;
  /** Wall-clock seconds for drawing the reference sets and for training + evaluation (not recorded in the metadata). */
  seconds: { reference: number; training: number };
}

/** Learning rate at `step` (0-based): linear warm-up to `peak`, then cosine decay to 0 at `total`. */
export function learningRateAt(step: number, peak: number, warmup: number, total: number): number {
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const t = (step - warmup) / Math.max(1, total - warmup);
  return peak * 0.5 * (1 + Math.cos(Math.PI * t));
}

function positiveInt(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RuntimeFailure(`${what} must be a positive integer, got ${value}`);
  return value;
}

export interface FitSettings {
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
}

export interface FitResult {
  params: ParamMap;
  /** Held-out accuracy per head (every view counted) and per view size. */
  accuracy: Record<string, number>;
  accuracyByView: Record<string, Record<string, number>>;
  finalLoss: number;
  warmup: number;
}

/** Warm-up steps for a run of `steps` steps. */
export function warmupSteps(steps: number): number {
  return Math.min(TRAIN_DEFAULTS.warmup, Math.max(1, Math.floor(steps / 10)));
}

/** Train a fresh network on `train` (in the current tfjs backend) and score it on `heldout`. */
export function fitDomainNetwork(train: ReferenceSet, heldout: ReferenceSet, s: FitSettings, progress: ProgressSink = silentProgress): FitResult {
  const heads = trainingHeads();
  const warmup = warmupSteps(s.steps);
  const vars = paramVariables(initParams(networkSpecs(heads), s.seed));
  const moments = new Map([...vars].map(([name, v]) => [name, { m: zeroVariable(v), v: zeroVariable(v) }]));
  const ops = new TfjsOps(vars);
  try {
    const labels = train.images.map((img) => heads.map((h) => labelOf(h, img.kind, img.attributes)));
    let order: number[] = [];
    let epoch = 0;
    let finalLoss = NaN;
    progress.start("training the domain network", s.steps);
    for (let step = 0; step < s.steps; step++) {
      const batch: number[] = [];
      while (batch.length < s.batchSize) {
        if (order.length === 0) order = new Rng(s.seed, "domain-epoch", epoch++).shuffle(train.images.map((_, i) => i));
        batch.push(order.pop() as number);
      }
      const x = new Float32Array(s.batchSize * INPUT_VOLUME);
      batch.forEach((idx, i) => {
        const { view, augmentation } = drawAugmentation(new Rng(s.seed, "domain-augment", step, i));
        augmentInto(train.images[idx].views[view], augmentation, x, i * INPUT_VOLUME);
      });
      const loss = trainStep(ops, vars, moments, heads, x, batch.map((idx) => labels[idx]), step + 1, learningRateAt(step, s.lr, warmup, s.steps));
      if (!Number.isFinite(loss)) throw new RuntimeFailure(`domain network training: the loss became ${loss} at step ${step + 1}; lower --lr`);
      finalLoss = loss;
      progress.update(step + 1, { loss });
    }
    progress.stop();
    const { accuracy, byView } = evaluate(ops, heads, heldout.images);
    return { params: hostParams(vars), accuracy, accuracyByView: byView, finalLoss, warmup };
  } finally {
    progress.stop();
    disposeTensors(vars);
    for (const m of moments.values()) {
      m.m.dispose();
      m.v.dispose();
    }
  }
}

/** Largest shift of the augmentation, in pixels of the 32×32 input. */
const MAX_SHIFT = 4;

export const AUGMENTATION_TEXT = `per image and step: one random view, mirrored left–right with probability 0.5, shifted by up to ±${MAX_SHIFT} px in x and y (border repeated)`;

/** The view and augmentation of one training image at one step (see AUGMENTATION_TEXT). */
function drawAugmentation(rng: Rng): { view: number; augmentation: Augmentation } {
  const view = rng.int(VIEW_SIZES.length);
  const flip = rng.chance(0.5);
  const dx = rng.int(2 * MAX_SHIFT + 1) - MAX_SHIFT;
  const dy = rng.int(2 * MAX_SHIFT + 1) - MAX_SHIFT;
  return { view, augmentation: { flip, dx, dy } };
}

/** The heads as recorded in the metadata (plain arrays). */
function trainingHeads() {
  return HEADS.map((h) => ({ ...h, classes: [...h.classes] }));
}

/** Draw the reference sets, train, score, and write the weights folder. */
export async function trainDomainNetwork(o: TrainDomainOptions): Promise<TrainDomainResult> {
  const settings: FitSettings = {
    steps: positiveInt(o.steps ?? TRAIN_DEFAULTS.steps, "steps"),
    batchSize: positiveInt(o.batchSize ?? TRAIN_DEFAULTS.batchSize, "batch size"),
    lr: o.lr ?? TRAIN_DEFAULTS.lr,
    seed: o.seed ?? TRAIN_DEFAULTS.seed,
  };
  const trainImages = positiveInt(o.trainImages ?? TRAIN_DEFAULTS.trainImages, "training images per generator");
  const heldoutImages = positiveInt(o.heldoutImages ?? TRAIN_DEFAULTS.heldoutImages, "held-out images per generator");
  const progress = o.progress ?? silentProgress;
  const backend = await initBackend(o.backend ?? "auto", { threads: o.threads ?? "auto" });

  const t0 = performance.now();
  const train = buildReferenceSet(REFERENCE_SEEDS.train, { art: trainImages, sketch2render: trainImages }, "training", progress);
  const heldout = buildReferenceSet(REFERENCE_SEEDS.heldout, { art: heldoutImages, sketch2render: heldoutImages }, "held-out", progress);
  const t1 = performance.now();
  const fit = fitDomainNetwork(train, heldout, settings, progress);

  const heads = trainingHeads();
  const chance: Record<string, number> = {};
  for (const h of heads) chance[h.name] = 1 / h.classes.length;
  const referencePart = (set: ReferenceSet) => ({ generators: set.parts, sha256: set.sha256 });
  const meta = writeDomainModel(o.outDir, fit.params, {
    format: MODEL_FORMAT,
    diffx_version: o.diffxVersion,
    architecture: ARCHITECTURE,
    feature_dims: FEATURE_DIMS,
    parameter_count: countParams(fit.params),
    input: { size: INPUT_SIZE, channels: INPUT_CHANNELS, layout: "NHWC", resize: RESIZE_RULE, normalization: NORMALIZATION },
    heads,
    reference_set: {
      generation_size: GENERATION_SIZE,
      view_sizes: [...VIEW_SIZES],
      views: VIEW_TEXT,
      train: referencePart(train),
      heldout: referencePart(heldout),
      seeds: "generator seeds ≥ 1000000, disjoint from dataset seeds; pair i of a generator depends only on (seed, i)",
    },
    training: {
      steps: settings.steps,
      batch_size: settings.batchSize,
      optimizer: `Adam (β1 ${ADAM.beta1}, β2 ${ADAM.beta2}, ε ${ADAM.eps}), no weight decay`,
      lr_peak: settings.lr,
      lr_schedule: `linear warm-up over ${fit.warmup} steps, then cosine decay to 0`,
      loss: "sum over heads of the mean cross-entropy over the batch images the head applies to",
      augmentation: AUGMENTATION_TEXT,
      seed: settings.seed,
      init: "src/model/params.ts initParams (fan_in uniform for conv/linear weights, zero biases, GroupNorm γ=1 β=0)",
      backend: backend.name,
      threads: backend.threads,
      final_loss: fit.finalLoss,
    },
    accuracy: fit.accuracy,
    accuracy_by_view: fit.accuracyByView,
    chance,
    accuracy_note: `held-out reference set (${heldoutImages} images per generator, seeds disjoint from training), every view counted; chance = 1/classes`,
    reproduce: `'diffx features train' with the same settings, diffx version and backend (${backend.name}) writes a bit-identical weights.bin (same sha256)`,
  });
  const t2 = performance.now();
  return { meta, backend, seconds: { reference: (t1 - t0) / 1000, training: (t2 - t1) / 1000 } };
}

function zeroVariable(like: tf.Tensor): tf.Variable {
  const zeros = tf.zerosLike(like);
  const v = tf.variable(zeros, false);
  zeros.dispose();
  return v;
}

/** Summed per-head cross-entropy, as in the module comment. */
function lossOf(ops: TfjsOps, heads: readonly HeadDef[], x: tf.Tensor, targets: { onehot: tf.Tensor; count: number }[]): tf.Scalar {
  const f = features(ops, x);
  let total: tf.Tensor = tf.scalar(0);
  heads.forEach((h, k) => {
    const { onehot, count } = targets[k];
    if (count === 0) return;
    const z = headLogits(ops, f, h.name);
    const logp = tf.sub(z, tf.logSumExp(z, 1, true));
    total = tf.add(total, tf.div(tf.neg(tf.sum(tf.mul(onehot, logp))), tf.scalar(count)));
  });
  return total as tf.Scalar;
}

/** One Adam step on the batch; returns the loss before the update. */
function trainStep(
  ops: TfjsOps,
  vars: Map<string, tf.Variable>,
  moments: Map<string, { m: tf.Variable; v: tf.Variable }>,
  heads: readonly HeadDef[],
  xData: Float32Array,
  labels: number[][],
  t: number,
  lr: number,
): number {
  const n = labels.length;
  const x = tf.tensor4d(xData, [n, INPUT_SIZE, INPUT_SIZE, INPUT_CHANNELS]);
  const targets = heads.map((h, k) => {
    const c = h.classes.length;
    const onehot = new Float32Array(n * c);
    let count = 0;
    labels.forEach((row, i) => {
      if (row[k] >= 0) {
        onehot[i * c + row[k]] = 1;
        count++;
      }
    });
    return { onehot: tf.tensor2d(onehot, [n, c]), count };
  });
  try {
    const varList = [...vars.values()];
    const { value, grads } = tf.variableGrads(() => lossOf(ops, heads, x, targets), varList);
    const loss = value.dataSync()[0];
    tf.tidy(() => {
      const c1 = 1 - Math.pow(ADAM.beta1, t), c2 = 1 - Math.pow(ADAM.beta2, t);
      for (const [name, p] of vars) {
        const g = grads[p.name];
        const s = moments.get(name);
        if (!g || !s) continue; // a head with no images in any batch yet has no gradient
        const m = tf.add(tf.mul(s.m, ADAM.beta1), tf.mul(g, 1 - ADAM.beta1));
        const v = tf.add(tf.mul(s.v, ADAM.beta2), tf.mul(tf.square(g), 1 - ADAM.beta2));
        s.m.assign(m);
        s.v.assign(v);
        const update = tf.div(tf.mul(m, lr / c1), tf.add(tf.sqrt(tf.div(v, c2)), ADAM.eps));
        p.assign(tf.sub(p, update));
      }
    });
    value.dispose();
    tf.dispose(Object.values(grads).filter((g): g is tf.Tensor => g !== null && g !== undefined));
    return loss;
  } finally {
    x.dispose();
    for (const tg of targets) tg.onehot.dispose();
  }
}

/** Held-out accuracy per head (every view of every image), overall and per view size. */
function evaluate(ops: TfjsOps, heads: readonly HeadDef[], images: readonly ReferenceImage[]): { accuracy: Record<string, number>; byView: Record<string, Record<string, number>> } {
  const hits = heads.map(() => VIEW_SIZES.map(() => 0));
  const totals = heads.map(() => VIEW_SIZES.map(() => 0));
  const items = images.flatMap((img) => VIEW_SIZES.map((_, view) => ({ img, view })));
  const BATCH = 128;
  for (let start = 0; start < items.length; start += BATCH) {
    const chunk = items.slice(start, start + BATCH);
    const xData = new Float32Array(chunk.length * INPUT_VOLUME);
    chunk.forEach((it, i) => xData.set(it.img.views[it.view], i * INPUT_VOLUME));
    const logits = tf.tidy(() => {
      const f = features(ops, tf.tensor4d(xData, [chunk.length, INPUT_SIZE, INPUT_SIZE, INPUT_CHANNELS]));
      return heads.map((h) => tf.argMax(headLogits(ops, f, h.name), 1));
    });
    heads.forEach((h, k) => {
      const predicted = logits[k].dataSync();
      chunk.forEach((it, i) => {
        const label = labelOf(h, it.img.kind, it.img.attributes);
        if (label < 0) return;
        totals[k][it.view]++;
        if (predicted[i] === label) hits[k][it.view]++;
      });
    });
    tf.dispose(logits);
  }
  const accuracy: Record<string, number> = {};
  const byView: Record<string, Record<string, number>> = {};
  VIEW_SIZES.forEach((size) => (byView[`${size}px`] = {}));
  heads.forEach((h, k) => {
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    accuracy[h.name] = sum(hits[k]) / Math.max(1, sum(totals[k]));
    VIEW_SIZES.forEach((size, v) => (byView[`${size}px`][h.name] = hits[k][v] / Math.max(1, totals[k][v])));
  });
  return { accuracy, byView };
}
