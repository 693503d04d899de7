/** Default settings of `diffx features train` (a module of its own so the CLI can show them without loading tfjs). */
export const TRAIN_DEFAULTS = {
  steps: 3000,
  batchSize: 32,
  lr: 2e-3,
  warmup: 50,
  seed: 0,
  /** Reference images per generator. */
  trainImages: 600,
  heldoutImages: 150,
} as const;
