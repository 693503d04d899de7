/** Public API of src/stats. */
export { analyse, analyseMatrix, type StatsResult, type TableRow } from "./analyse.js";
export { formatStatsText } from "./format.js";
export { statsWarnings } from "./warnings.js";
export { readTableCsv, parseTableCsv, toFoldMatrix, type Observation, type FoldMatrix } from "./table.js";
export { summarise, type VariantSummary } from "./summary.js";
export { repeatedMeasuresAnova, oneWayAnova, greenhouseGeisserEpsilon, columns, type RmAnova, type OneWayAnova } from "./anova.js";
export { friedman, friedmanPermutationP, EXACT_MAX_FOLDS, type Friedman, type FriedmanExact } from "./friedman.js";
export { signTest, wilcoxonSignedRank, WILCOXON_EXACT_MAX, type SignTest, type WilcoxonTest } from "./paired.js";
export { pairedTTest, holm, pairwisePosthoc, type PairedTTest, type PosthocPair } from "./posthoc.js";
export { fUpperTail, tUpperTail, tTwoSidedP, chiSquareUpperTail, tUpperQuantile } from "./distributions.js";
