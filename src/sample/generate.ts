/**
 * Generate images for a list of conditions with any sampler and any network session (tfjs or
 * onnxruntime): batches of conditions, per-sample noise from (seed, global sample index), optional
 * classifier-free guidance, results as 8-bit images. Non-finite results (an absurd guidance
 * scale overflows float32) are an error, never a silently black image.
 */
import type { ModelConfig } from "../config/schema.js";
import { floatsToImage, type Image } from "../engine/image.js";
import { RuntimeFailure } from "../errors.js";
import { guidedDenoiser } from "../diffusion/samplers/guidance.js";
import { usesGuidance } from "../diffusion/samplers/nfe.js";
import { sample, seededNoise } from "../diffusion/samplers/sample.js";
import type { SamplerSettings } from "../diffusion/samplers/types.js";
import type { Prediction } from "../diffusion/parameterization.js";
import type { NoiseSchedule } from "../diffusion/schedule.js";
import type { Tokenizer } from "../model/tokenizer.js";
import type { ProgressSink } from "../engine/progress.js";
import { conditionInputs, type Condition } from "./conditions.js";
import { conditionedDenoiser, type NetworkSession } from "./network-session.js";

export interface GenerateRequest {
  session: NetworkSession;
  model: ModelConfig;
  schedule: NoiseSchedule;
  prediction: Prediction;
  sampler: SamplerSettings;
  guidance: number;
  seed: number;
  tokenizer: Tokenizer | null;
  /** One condition per sample; sample k of this call has global index `firstIndex + k`. */
  conditions: readonly Condition[];
  firstIndex?: number;
  batchSize: number;
  progress?: ProgressSink;
}

export async function generate(req: GenerateRequest): Promise<Image[]> {
  const R = req.model.resolution;
  const size = R * R * 3;
  const noise = seededNoise(req.seed, size);
  const first = req.firstIndex ?? 0;
  const guided = usesGuidance(req.model.conditioning, req.guidance);
  const images: Image[] = [];
  const total = req.conditions.length * req.sampler.steps;
  req.progress?.start("sampling", total);
  try {
    for (let b = 0; b < req.conditions.length; b += req.batchSize) {
      const conds = req.conditions.slice(b, b + req.batchSize);
      const inputs = conditionInputs(req.model, conds, req.tokenizer);
      const net = conditionedDenoiser(req.session, req.model, inputs, guided);
      const denoiser = guided ? guidedDenoiser(net, req.guidance) : net;
      const samples = conds.map((_, k) => first + b + k);
      const x = await sample({
        denoiser,
        schedule: req.schedule,
        prediction: req.prediction,
        sampler: req.sampler,
        noise,
        samples,
        sampleSize: size,
        onStep: (done) => req.progress?.update(b * req.sampler.steps + done * conds.length),
      });
      const bad = x.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) {
        const settings = `guidance ${req.guidance}, ${req.sampler.name} ${req.sampler.steps} steps${req.sampler.eta ? `, eta ${req.sampler.eta}` : ""}`;
        throw new RuntimeFailure(`sampling produced ${x[bad]} pixel values (sample ${samples[Math.floor(bad / size)]}): the arithmetic overflowed with ${settings}; a guidance or eta far above the usual range (guidance 1–10, eta 0–1) does this, or damaged weights. No image of it was written`);
      }
      for (let k = 0; k < conds.length; k++) images.push(floatsToImage(x.subarray(k * size, (k + 1) * size), R, R, 3));
    }
  } finally {
    req.progress?.stop();
  }
  return images;
}
