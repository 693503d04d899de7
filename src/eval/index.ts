/** Public API of src/eval: k-fold evaluation runs and their building blocks. */
export { runEval, resolveFeaturesSpec, sampleSeed, statsSeed, EVAL_DIR, type EvalOptions, type EvalResult } from "./run-eval.js";
export { evalIdentity, findMatchingEval, locateEvalFolder, createEvalFolder } from "./eval-folder.js";
export { planFolds, type FoldPlan } from "./fold-plan.js";
export { resolveVariants, trainingConfig, type ResolvedVariant, type TrainingPlan } from "./variants.js";
export { canPredictAttributes, textControl, sketchControl, type AttributePredictor } from "./control.js";
export { sketchFidelity, edgeF1, DEFAULT_EDGE_OPTIONS, type EdgeOptions, type EdgeScore } from "./edges.js";
export { encodeNpy, writeNpy } from "./npy.js";
export { runQueue } from "./queue.js";
