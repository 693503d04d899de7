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
  out.push(
    "",
    "Repeated-measures ANOVA (folds as subjects)",
    `  F(${num(rm.df1)}, ${num(rm.df2)}) = ${num(rm.F)}, p = ${pval(rm.p)}`,
    `  Greenhouse–Geisser ε = ${num(rm.epsilon_gg)}, corrected p = ${pval(rm.p_gg)}`,
    `  partial η² = ${num(rm.partial_eta2)}`,
  );
  const ow = result.oneway_anova;
  out.push(
    "",
    "One-way ANOVA (variants as independent groups)",
    `  F(${num(ow.df1)}, ${num(ow.df2)}) = ${num(ow.F)}, p = ${pval(ow.p)}, η² = ${num(ow.eta2)}`,
  );
  const fr = result.friedman;
  out.push("", "Friedman test (ranks within folds, tie-corrected)", `  χ²(${num(fr.df)}) = ${num(fr.chi2)}, p = ${pval(fr.p)}`);

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

function alignRows(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
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
