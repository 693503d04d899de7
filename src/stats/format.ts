/** Plain-text rendering of a StatsResult: the summary table and one block per test. */
import type { StatsResult } from "./analyse.js";

export function formatStatsText(result: StatsResult, title: string): string {
  const variants = Object.keys(result.summary);
  const nFolds = variants.length > 0 ? result.summary[variants[0]!]!.n : 0;
  const out: string[] = [`${title}: ${nFolds} folds × ${variants.length} variants`, ""];

  out.push(
    ...alignRows([
      ["variant", "n", "mean", "sd", "95% CI"],
      ...variants.map((v) => {
        const s = result.summary[v]!;
        return [v, String(s.n), num(s.mean), num(s.sd), `[${num(s.ci95[0])}, ${num(s.ci95[1])}]`];
      }),
    ]),
  );

  const rm = result.rm_anova;
  const fr = result.friedman;
  const k = variants.length;
  if (k >= 3) {
    out.push(
      "",
      "Repeated-measures ANOVA (folds as subjects), Greenhouse–Geisser corrected",
      `  ε = ${num(rm.epsilon_gg)}, F(${num(rm.df1 * rm.epsilon_gg)}, ${num(rm.df2 * rm.epsilon_gg)}) = ${num(rm.F)}, p = ${pval(rm.p_gg)}`,
      `  uncorrected: F(${num(rm.df1)}, ${num(rm.df2)}), p = ${pval(rm.p)} (assumes sphericity)`,
      `  partial η² = ${num(rm.partial_eta2)}, generalized η² = ${num(rm.generalized_eta2)}`,
    );
  } else {
    out.push(
      "",
      "Repeated-measures ANOVA (folds as subjects; with two variants the paired t-test, F = t²)",
      `  F(${num(rm.df1)}, ${num(rm.df2)}) = ${num(rm.F)}, p = ${pval(rm.p)}`,
      `  partial η² = ${num(rm.partial_eta2)}, generalized η² = ${num(rm.generalized_eta2)}`,
    );
  }
  out.push("", "Friedman test (ranks within folds, tie-corrected)", `  χ²(${num(fr.df)}) = ${num(fr.chi2)}, ${friedmanP(fr)}`);
  if (result.paired) {
    const { a, b, sign_test: s, wilcoxon: w } = result.paired;
    out.push(
      "",
      `${w.method === "exact" ? "Exact paired" : "Paired"} tests (${a} − ${b} per fold)`,
      `  sign test: ${s.wins} wins, ${s.losses} losses, ${s.ties} ties, p = ${pval(s.p)}`,
      `  Wilcoxon signed-rank: W = ${num(w.statistic)} (R+ = ${num(w.r_plus)}, n = ${w.n} non-zero), p = ${pval(w.p)} (${w.method === "exact" ? "exact" : "normal approximation"})`,
    );
  }

  out.push(
    "",
    "Post-hoc paired t-tests (a − b per fold; Holm-adjusted over all pairs)",
    ...alignRows([
      ["a", "b", "t", "df", "p", "p (Holm)", "d_z"],
      ...result.posthoc.map((x) => [x.a, x.b, num(x.t), num(x.df), pval(x.p), pval(x.p_holm), num(x.d_z)]),
    ]).map((l) => "  " + l),
  );
  out.push(
    "",
    `note: with ${nFolds} folds these tests have little power, and cross-validation folds share training data,`,
    "so fold scores are not independent; read the p-values as indicative, not exact.",
  );
  return out.join("\n");
}

/** The Friedman p the analysis reads, with how it was computed. */
export function friedmanP(fr: StatsResult["friedman"]): string {
  if (fr.exact?.method === "enumeration") return `exact p = ${pval(fr.p)} (all ${fr.exact.permutations} within-fold orders; χ² approximation ${pval(fr.p_chi2)})`;
  if (fr.exact) return `permutation p = ${pval(fr.p)} ± ${pval(fr.exact.mc_se ?? Number.NaN)} (Monte-Carlo SE, ${fr.exact.permutations} seeded permutations; χ² approximation ${pval(fr.p_chi2)})`;
  return `p = ${pval(fr.p)} (χ² approximation)`;
}

function alignRows(rows: string[][]): string[] {
  // a loop, not Math.max(...rows): spreading the rows of a wide table's post-hoc pairs overflows the call stack
  const widths = rows[0]!.map((_, c) => rows.reduce((w, r) => Math.max(w, (r[c] ?? "").length), 0));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  "));
}

function num(v: number): string {
  if (Number.isNaN(v)) return "n/a";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(Number(v.toPrecision(5)));
}

function pval(p: number): string {
  if (Number.isNaN(p)) return "n/a";
  return p < 1e-4 ? p.toExponential(2) : p.toFixed(4);
}
