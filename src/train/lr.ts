/** Learning-rate schedule: linear warm-up to the peak, then cosine decay to zero (SGDR, Loshchilov & Hutter 2017). */
export function learningRate(step: number, peak: number, warmup: number, total: number): number {
  // `step` is 0-based: the update about to be applied
  if (warmup > 0 && step < warmup) return (peak * (step + 1)) / warmup;
  const decaySteps = Math.max(1, total - warmup);
  const progress = Math.min(1, (step - warmup) / decaySteps);
  return peak * 0.5 * (1 + Math.cos(Math.PI * progress));
}
