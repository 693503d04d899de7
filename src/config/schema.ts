/**
 * The one schema of a diffx experiment config. Every key, its type, default and doc string
 * live here; `diffx config reference` renders the README's reference table from it.
 * Objects are strict: an unknown key is an error (with a "did you mean" suggestion).
 */
import { z } from "zod";
import { inSeedRange, SEED_RANGES } from "./seed-ranges.js";
import { LORA_TARGETS } from "./lora-targets.js";

const posInt = () => z.number().int().positive();
const nonNegInt = () => z.number().int().nonnegative();
/** A file-name-safe name (it names a folder): letters, digits, '.', '_', '-', and not '.' or '..'. */
const folderName = () =>
  z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, "letters, digits, '.', '_' and '-' only")
    .refine((v) => !/^\.+$/.test(v), "must not be only dots (it names a folder)");

export const datasetSchema = z
  .strictObject({
    kind: z.enum(["art", "sketch2render", "folder"]).default("art").describe("art (text→image pairs), sketch2render (sketch→image pairs), or folder (an imported dataset at `path`)"),
    name: folderName().default("art-60").describe("dataset folder name under datasets/"),
    n: posInt().optional().describe("number of pairs to generate (default 60 for art, 55 for sketch2render)"),
    image_size: posInt().default(128).describe("stored image size in pixels (square)"),
    seed: nonNegInt().default(1).describe("generator seed"),
    path: z.string().optional().describe("dataset folder (kind: folder); relative to the config file"),
    stratify: z.string().optional().describe("attribute used to stratify k-fold splits (default: style for art, category for sketch2render)"),
  })
  .describe("the paired dataset");

export const modelSchema = z
  .strictObject({
    resolution: posInt().default(32).describe("image size the model works at (pixels, square)"),
    channels: z.array(posInt()).min(1).default([32, 64, 128]).describe("channel width of each UNet level (one level per entry; each level after the first halves the resolution)"),
    res_blocks: posInt().default(1).describe("residual blocks per UNet level"),
    attention: z.array(posInt()).default([8]).describe("resolutions (pixels) at which self-attention is used"),
    groups: posInt().default(8).describe("GroupNorm groups"),
    time_dim: posInt().default(128).describe("sinusoidal timestep embedding size"),
    conditioning: z.enum(["text", "sketch", "none"]).default("none").describe("what the model is conditioned on"),
    text_dim: posInt().default(64).describe("text encoder width"),
    text_layers: nonNegInt().default(2).describe("text encoder transformer layers"),
    text_heads: posInt().default(4).describe("text encoder attention heads"),
    max_tokens: posInt().default(24).describe("caption length in tokens (longer captions are cut)"),
    text_pool: z
      .boolean()
      .default(false)
      .describe("also add the mean of the text tokens, through a linear layer, to the timestep embedding: a global text condition in every residual block beside the cross-attention (as GLIDE and Imagen do)"),
    position_embedding: z
      .boolean()
      .default(false)
      .describe("add a learned position map to the input of every UNet level (ViT's learned position embedding, one per level): tells the network where in the image each pixel is, which otherwise only its convolutions' zero padding does"),
    mid_block: z
      .boolean()
      .default(false)
      .describe("a middle block at the lowest resolution between encoder and decoder (residual block → self-attention [→ cross-attention] → residual block, as in DDPM and ADM): global attention over what the encoder found, where the layout is decided"),
    sketch_channels: posInt().default(16).describe("width of the sketch encoder's first level"),
  })
  .describe("the noise-prediction network and its condition encoders");

export const diffusionSchema = z
  .strictObject({
    timesteps: posInt().default(1000).describe("number of diffusion steps T"),
    schedule: z.enum(["linear", "cosine"]).default("cosine").describe("β schedule: linear (DDPM) or cosine (improved DDPM)"),
    prediction: z.enum(["eps", "v"]).default("eps").describe("what the network predicts: noise ε or velocity v"),
    min_snr_gamma: z.number().nonnegative().default(0).describe("min-SNR-γ loss weighting (0 = off)"),
  })
  .describe("the diffusion process and training objective");

export const devicesSchema = z
  .union([z.literal("auto"), posInt(), z.string().regex(/^\d+(,\d+)*$/, "a device list like 0,3,5")])
  .default(1)
  .describe("training devices, one worker process each: a count, auto (every visible GPU when engine.device resolves to cuda, else 1 CPU worker), or a GPU id list like 0,3,5 (CUDA only)");

/** `train.init`: where training starts (see src/train/init.ts). */
export const INIT_PATTERN = /^(scratch|base:[A-Za-z0-9._-]+|run:.+)$/;

/** `train.adapter`: a LoRA adapter on a frozen base (src/model/lora.ts, src/train/adapter.ts). */
export const adapterSchema = z.strictObject({
  kind: z.literal("lora").describe("adapter kind: lora (W + (α/r)·B·A on every targeted layer)"),
  rank: posInt().default(4).describe("rank r of the low-rank update"),
  alpha: z.number().positive().optional().describe("α: the update is scaled by α/r (default: α = r, scale 1)"),
  targets: z
    .array(z.enum(LORA_TARGETS))
    .min(1)
    .default(["attn_q", "attn_k", "attn_v", "attn_out"])
    .describe("adapted layers: attn_q, attn_k, attn_v, attn_out (UNet attention), text_proj (cross-attention k/v), time (time MLP and projections), conv3x3, conv1x1 (UNet convolutions), text_encoder (its linears)"),
});

export const trainSchema = z
  .strictObject({
    init: z
      .string()
      .regex(INIT_PATTERN, "scratch, base:NAME (a shipped base model: diffx base list) or run:PATH[@STEP] (a training run folder, optionally a checkpoint step)")
      .default("scratch")
      .describe("where the weights start: scratch (seeded initialisation), base:NAME (a pretrained base shipped with diffx; `diffx base list`), or run:PATH[@STEP] (the EMA weights of any training run, its newest or a given checkpoint; PATH relative to the config file). The model and diffusion sections must match the source's; caption words the source's tokenizer lacks are appended to it and start from its <unk> embedding"),
    steps: nonNegInt().default(1000).describe("optimizer steps (0: no training, the run holds train.init's weights as they are: a base model's zero-shot control in an eval)"),
    batch_size: posInt().default(16).describe("global batch size (split across devices)"),
    lr: z.number().positive().default(2e-4).describe("peak learning rate"),
    warmup: nonNegInt().default(100).describe("linear warm-up steps, then cosine decay"),
    optimizer: z.enum(["adam", "adamw"]).default("adamw").describe("optimizer"),
    weight_decay: z.number().nonnegative().default(0.0).describe("decoupled weight decay (adamw)"),
    ema: z.number().min(0).max(1).default(0.999).describe("EMA decay of the weights"),
    grad_clip: z.number().nonnegative().default(1.0).describe("clip gradients to this global norm (0 = off)"),
    cond_dropout: z.number().min(0).max(1).default(0.1).describe("probability of replacing the condition with the null condition"),
    flip: z.boolean().default(false).describe("random horizontal flips"),
    checkpoint_every: posInt().default(500).describe("write a checkpoint every N steps (and at the end)"),
    eval_every: posInt().default(100).describe("log the VLB/KL term and the perceptual loss every N steps (on the first ≤ 8 held-out pairs)"),
    log_every: posInt().default(10).describe("log loss every N steps"),
    devices: devicesSchema,
    sample_grid: nonNegInt().default(8).describe("images in the end-of-training sample grid (0 = none)"),
    adapter: adapterSchema.optional().describe("fine-tune a low-rank adapter instead of every weight (absent: full training). Needs train.init base:NAME or run:PATH; the base stays frozen, only the adapter is trained and checkpointed (with the base's sha256)"),
  })
  .describe("training");

export const engineSchema = z
  .strictObject({
    backend: z.enum(["auto", "tensorflow", "wasm", "cpu"]).default("auto").describe("tfjs backend: auto picks tensorflow → wasm → cpu"),
    threads: z.union([z.literal("auto"), posInt()]).default("auto").describe("CPU threads for the wasm backend"),
    device: z
      .enum(["auto", "cpu", "cuda"])
      .default("auto")
      .describe(
        "where onnxruntime-node computes the training gradients and samples (sample.engine onnx): cuda (its CUDA execution provider: CUDA 12, cuDNN 9; one worker process per GPU with train.devices), cpu, or auto = cuda where the CUDA provider loads, else cpu (the run manifest records the choice and why). `diffx doctor` says which piece CUDA is missing; `--device` overrides it for one command",
      ),
    gradients: z
      .enum(["auto", "tfjs", "onnx"])
      .default("auto")
      .describe(
        "where training computes the loss and its gradients: onnx (onnxruntime-node running a forward + gradient graph diffx builds from the same model code; within 1.5× of PyTorch per step on CPU, several times faster than tfjs-wasm), tfjs (the backend above, via tf.variableGrads), or auto = onnx (on engine.device; the GPU path does not use tfjs). The parameter update (AdamW, EMA) runs on the host either way; the run manifest records the engine used (backend.gradients). The two engines agree to float32 rounding, not bit for bit: resume a run with the engine it started with",
      ),
  })
  .describe("tensor engine");

export const sampleSchema = z
  .strictObject({
    sampler: z.enum(["ddim", "ddpm", "dpmpp"]).default("ddpm").describe("sampler (ddpm, the default, draws the cleanest pictures from the models diffx trains: README, \"Limits of the shipped bases\")"),
    steps: posInt().default(25).describe("denoising steps"),
    guidance: z.number().nonnegative().default(3.0).describe("classifier-free guidance scale w (1 = no guidance)"),
    eta: z.number().nonnegative().default(0).describe("DDIM η (0 = deterministic)"),
    clip_x0: z.number().nonnegative().default(1).describe("clip the predicted clean image to [−c, c] at every step (0 = off)"),
    engine: z.enum(["tfjs", "onnx"]).default("tfjs").describe("network engine for sampling"),
    ema: z.boolean().default(true).describe("sample with the EMA weights"),
    batch_size: posInt().default(16).describe("images per network call"),
    language: z.enum(["en", "zh"]).default("en").describe("caption language an eval conditions text models on: en (caption) or zh (caption_zh, where the dataset has Chinese captions)"),
  })
  .describe("sampling");

/**
 * A section's keys as optional overrides WITHOUT defaults (zod's `.partial()` would still fill
 * in every default, so a variant's `{ steps: 2 }` would silently reset the other keys).
 */
function overrides<S extends z.ZodRawShape>(section: z.ZodObject<S>) {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(section.shape)) {
    let inner: z.ZodType = field as z.ZodType;
    if (inner instanceof z.ZodDefault) inner = inner.def.innerType as z.ZodType;
    if (inner instanceof z.ZodOptional) inner = inner.def.innerType as z.ZodType;
    shape[key] = inner.optional();
  }
  return z.strictObject(shape) as unknown as z.ZodObject<{ [K in keyof S]: z.ZodOptional<z.ZodType<z.output<S[K]> extends infer O ? Exclude<O, undefined> : never>> }>;
}

export const variantSchema = z.strictObject({
  name: z.string().min(1).describe("variant name"),
  sample: overrides(sampleSchema).optional().describe("sampling overrides"),
  train: overrides(trainSchema).optional().describe("training overrides (the variant trains its own model per fold)"),
  model: overrides(modelSchema).optional().describe("model overrides (the variant trains its own model per fold)"),
  diffusion: overrides(diffusionSchema).optional().describe("diffusion overrides (the variant trains its own model per fold)"),
});

export const evalSchema = z
  .strictObject({
    folds: z.number().int().min(2).default(5).describe("k of k-fold cross-validation"),
    samples_per_fold: posInt().default(16).describe("images generated per fold and variant"),
    features: z.string().default("domain").describe("feature extractor for FID/KID: domain (diffx's learned 128-d CNN features; also predicts attributes for text control), pixels (8×8 RGB, no model) or onnx:PATH (any ONNX image model, e.g. an Inception export)"),
    parallel: posInt().default(1).describe("folds run at once"),
    bootstrap: nonNegInt().default(200).describe("bootstrap resamples for FID/KID confidence intervals"),
    variants: z.array(variantSchema).min(1).default([{ name: "default" }]).describe("compared settings, each a set of overrides"),
  })
  .describe("k-fold evaluation");

export const pretrainSchema = z
  .strictObject({
    base: folderName().describe("name of the base model this config pretrains (`train.init: base:NAME` fine-tunes from it)"),
    heldout_n: posInt().default(120).describe("pairs of the procedural held-out set the base is scored on (FID/KID, text control) for its metadata"),
    heldout_seed: nonNegInt().describe("generator seed of that held-out set (pretraining seed range, not the corpus seed)"),
  })
  .describe("pretraining a base model (`diffx pretrain`): the dataset section describes its procedural corpus, drawn with a seed from the pretraining range");

export const verifySchema = z
  .strictObject({
    rtol: z.number().nonnegative().default(1e-3).describe("relative tolerance for numbers on non-deterministic (GPU) backends"),
  })
  .describe("reproducibility checks");

/** Slurm's time limit forms: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS. */
const SLURM_TIME = /^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d{1,2}(:\d{1,2}){0,2})$/;

export const launcherSchema = z
  .strictObject({
    kind: z.enum(["local", "slurm"]).default("local").describe("where eval trainings and `diffx train` run: local (processes on this machine) or slurm (sbatch jobs; the run folder must be on a filesystem the nodes share). `--launcher` overrides it"),
    partition: z.string().min(1).optional().describe("Slurm partition (sbatch --partition)"),
    time: z.string().regex(SLURM_TIME, "a Slurm time limit like 90, 4:00:00 or 1-12:00:00").optional().describe("time limit per job (sbatch --time)"),
    gres: z.string().min(1).default("auto").describe("generic resources per job (sbatch --gres): auto = gpu:N for a training on N devices (train.devices, or --devices) and gpu:1 for the sampling/scoring job, no GPUs where engine.device is cpu; none = no --gres (a CPU cluster); else passed as written, e.g. gpu:a100:8"),
    cpus_per_task: posInt().optional().describe("CPU cores per job (sbatch --cpus-per-task); diffx then uses that many threads"),
    mem: z.string().regex(/^\d+[KMGT]?$/i, "a Slurm memory size like 16G or 8000M").optional().describe("memory per node (sbatch --mem)"),
    account: z.string().min(1).optional().describe("account to charge (sbatch --account)"),
    extra_args: z.array(z.string().regex(/^--?[A-Za-z]/, "an sbatch option like --qos=high")).default([]).describe("further sbatch options, one per entry, each written as an #SBATCH line (e.g. --qos=high, --constraint=a100)"),
  })
  .describe("where jobs run (local processes or Slurm); not part of what a run computes: results do not depend on it");

export const configSchema = z.strictObject({
  name: folderName().default("experiment").describe("experiment name (run folders are named after it)"),
  seed: nonNegInt().default(42).describe("master seed; every random stream derives from it"),
  dataset: datasetSchema.default(datasetSchema.parse({})),
  model: modelSchema.default(modelSchema.parse({})),
  diffusion: diffusionSchema.default(diffusionSchema.parse({})),
  train: trainSchema.default(trainSchema.parse({})),
  engine: engineSchema.default(engineSchema.parse({})),
  sample: sampleSchema.default(sampleSchema.parse({})),
  eval: evalSchema.default(evalSchema.parse({})),
  verify: verifySchema.default(verifySchema.parse({})),
  pretrain: pretrainSchema.optional(),
  launcher: launcherSchema.optional(),
}).superRefine((c, ctx) => {
  // generator seeds stay in their ranges (src/config/seed-ranges.ts): datasets, the domain
  // extractor's reference set and the pretraining corpora never share an image
  if (c.train.adapter && c.train.init === "scratch") {
    ctx.addIssue({ code: "custom", path: ["train", "adapter"], message: "an adapter fine-tunes a frozen base: set train.init to base:NAME or run:PATH (with scratch there is no base to adapt)" });
  }
  if (c.dataset.kind === "folder") return;
  const use = c.pretrain ? "pretrain" : "dataset";
  const r = SEED_RANGES[use];
  if (!inSeedRange(use, c.dataset.seed)) {
    ctx.addIssue({ code: "custom", path: ["dataset", "seed"], message: `${c.dataset.seed} is outside the seed range of ${r.what} (${r.min}–${r.max}; src/config/seed-ranges.ts)${c.pretrain ? "" : "; only a config with a pretrain section draws from the pretraining range"}` });
  }
  if (c.pretrain) {
    if (!inSeedRange("pretrain", c.pretrain.heldout_seed)) ctx.addIssue({ code: "custom", path: ["pretrain", "heldout_seed"], message: `${c.pretrain.heldout_seed} is outside the pretraining seed range (${r.min}–${r.max})` });
    else if (c.pretrain.heldout_seed === c.dataset.seed) ctx.addIssue({ code: "custom", path: ["pretrain", "heldout_seed"], message: "must differ from dataset.seed (the corpus): the held-out set must not be the training corpus" });
  }
});

export type Config = z.infer<typeof configSchema>;
export type DatasetConfig = z.infer<typeof datasetSchema>;
export type ModelConfig = z.infer<typeof modelSchema>;
export type DiffusionConfig = z.infer<typeof diffusionSchema>;
export type TrainConfig = z.infer<typeof trainSchema>;
export type AdapterConfig = z.infer<typeof adapterSchema>;
export type EngineConfig = z.infer<typeof engineSchema>;
export type SampleConfig = z.infer<typeof sampleSchema>;
export type EvalConfig = z.infer<typeof evalSchema>;
export type VariantConfig = z.infer<typeof variantSchema>;
export type PretrainConfig = z.infer<typeof pretrainSchema>;
export type LauncherConfig = z.infer<typeof launcherSchema>;

/** The config's launcher section, with the defaults when it has none (kind: local). */
export function launcherOf(c: Config): LauncherConfig {
  return c.launcher ?? launcherSchema.parse({});
}

/** Default pair counts of the two study datasets. */
export function datasetSize(d: DatasetConfig): number {
  return d.n ?? (d.kind === "sketch2render" ? 55 : 60);
}
