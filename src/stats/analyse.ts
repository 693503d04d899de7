/**
 * The full statistics of a fold × variant table, as `diffx stats --json` prints it and the eval
 * report stores it. This is the entry point for callers holding data in memory.
 *
 * Every test here respects the pairing by fold (a fold's variants share its held-out images,
 * training data and noise): repeated-measures ANOVA with the Greenhouse–Geisser correction,
 * Friedman (exact at ≤ 10 folds), and for two variants the exact sign and Wilcoxon signed-rank
 * tests. The one-way ANOVA, which treats the variants as independent groups, is not one of them.
 */
import { repeatedMeasuresAnova, columns, type RmAnova } from "./anova.js";
import { friedman, type Friedman } from "./friedman.js";
import { signTest, wilcoxonSignedRank, type SignTest, type WilcoxonTest } from "./paired.js";
import { pairwisePosthoc, type PosthocPair } from "./posthoc.js";
import { summarise, type VariantSummary } from "./summary.js";
import { toFoldMatrix, type FoldMatrix } from "./table.js";
import { scaleRows, unitScale } from "./unit-scale.js";

export interface StatsResult {
  summary: Record<string, VariantSummary>;
  rm_anova: RmAnova;
  friedman: Friedman;
  /** Exact tests of the two variants' per-fold differences (first − second); null unless k = 2. */
  paired: { a: string; b: string; sign_test: SignTest; wilcoxon: WilcoxonTest } | null;
  posthoc: PosthocPair[];
}

/** A cell given in memory; numeric fold ids are accepted and used as their decimal string. */
export interface TableRow {
  fold: string | number;
  variant: string;
  value: number;
}

/**
 * Analyse rows (one per fold × variant). Throws UsageError for duplicate or missing cells,
 * non-finite values, fewer than 2 variants or 2 folds; `source` names the data in that message.
 */
export function analyse(rows: readonly TableRow[], source = "stats table"): StatsResult {
  const matrix = toFoldMatrix(
    rows.map((r) => ({ fold: String(r.fold), variant: r.variant, value: r.value })),
    source,
  );
  return analyseMatrix(matrix);
}

/**
 * Analyse an already complete matrix (values[fold][variant]). The ANOVA and t-tests are
 * scale-free, so they run on the values rescaled by a power of two (exact): scores of 1e300 or
 * 1e-300 give the same t, F and p as scores of 1, instead of Infinity or 0 from overflowing
 * squares. The rank tests only compare, so they read the values as given (where rescaling could
 * flush a 1e-300 beside a 1e300 to 0 and make a tie of it).
 */
export function analyseMatrix(matrix: FoldMatrix): StatsResult {
  const { values, variants } = matrix;
  const scaled = scaleRows(values, unitScale(values.flat()));
  const cols = columns(values);
  // fromEntries defines own properties, so any variant name (even "__proto__") is a plain key
  const summary: Record<string, VariantSummary> = Object.fromEntries(variants.map((v, j) => [v, summarise(cols[j]!)]));
  return {
    summary,
    rm_anova: repeatedMeasuresAnova(scaled),
    friedman: friedman(values),
    paired: variants.length === 2 ? { a: variants[0]!, b: variants[1]!, sign_test: signTest(cols[0]!, cols[1]!), wilcoxon: wilcoxonSignedRank(cols[0]!, cols[1]!) } : null,
    posthoc: pairwisePosthoc(scaled, variants),
  };
}
