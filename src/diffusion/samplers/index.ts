/** Samplers: one interface (types.ts), three methods, guidance and the sampling driver. */
export type { Denoiser, Sampler, SamplerContext, SamplerName, SamplerSettings } from "./types.js";
export { SAMPLER_NAMES } from "./types.js";
export { trailingTimesteps } from "./timesteps.js";
export { createSampler } from "./create.js";
export { DdpmSampler } from "./ddpm.js";
export { DdimSampler } from "./ddim.js";
export { DpmSolverPP2MSampler } from "./dpmpp.js";
export { guide, guidedDenoiser } from "./guidance.js";
export { sample, seededNoise, type NoiseSource, type SampleRequest } from "./sample.js";
export { networkEvaluations, usesGuidance } from "./nfe.js";
