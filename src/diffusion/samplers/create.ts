/** Build a sampler by name. */
import { UsageError } from "../../errors.js";
import { DdimSampler } from "./ddim.js";
import { DdpmSampler } from "./ddpm.js";
import { DpmSolverPP2MSampler } from "./dpmpp.js";
import type { Sampler, SamplerContext, SamplerSettings } from "./types.js";

/** A fresh sampler for one run (see `Sampler`). */
export function createSampler(settings: SamplerSettings, ctx: SamplerContext): Sampler {
  const clip = settings.clipX0;
  if (clip !== undefined && !(clip > 0)) throw new UsageError(`x̂_0 clipping bound must be > 0, got ${String(clip)}`);
  switch (settings.name) {
    case "ddpm":
      return new DdpmSampler(ctx, settings.steps, clip);
    case "ddim":
      return new DdimSampler(ctx, settings.steps, settings.eta ?? 0, clip);
    case "dpmpp":
      return new DpmSolverPP2MSampler(ctx, settings.steps, clip);
    default:
      throw new UsageError(`sample.sampler must be ddim, ddpm or dpmpp, got ${JSON.stringify(settings.name)}`);
  }
}
