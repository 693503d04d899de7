/**
 * The cost of a sample in network evaluations (NFE): every sampler here (DDPM, DDIM,
 * DPM-Solver++(2M)) calls the network once per step, and classifier-free guidance runs each
 * call twice, once with the condition and once with the null condition (one doubled batch,
 * guidance.ts), so a guided image costs two evaluations per step.
 */
import type { SamplerSettings } from "./types.js";

/**
 * Whether sampling runs the unconditional pass beside the conditional one: a conditional model
 * with guidance w ≠ 1 (w = 1 is the conditional model alone; w = 0, the unconditional one, still
 * runs both halves of the batch).
 */
export function usesGuidance(conditioning: "text" | "sketch" | "none", guidance: number): boolean {
  return conditioning !== "none" && guidance !== 1;
}

/** Network evaluations per image: steps, doubled when guidance needs the unconditional pass. */
export function networkEvaluations(sampler: Pick<SamplerSettings, "steps">, guided: boolean): number {
  return sampler.steps * (guided ? 2 : 1);
}
