/** report.md, rendered from report.json (the plots are the SVG files in plots/; the matrix is comparison.png). */
import { PLOTS_DIR, reportPlots } from "./charts.js";
import { num, pval } from "./format.js";
import type { EvalReport } from "./report-types.js";
import { foldsTable, perFoldTable, posthocTable, provenance, summaryTable, testsTable, textControlByValueTable, textControlTable, trainingTable, variantsTable, type Table } from "./tables.js";
import type { StatsResult } from "../stats/index.js";

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

export function markdownTable(t: Table): string {
  const lines = [`| ${t.header.map(cell).join(" | ")} |`, `|${t.header.map(() => " --- ").join("|")}|`];
  for (const row of t.rows) lines.push(`| ${row.map(cell).join(" | ")} |`);
  return lines.join("\n");
}

function statsSection(label: string, s: StatsResult | null): string[] {
  if (!s) return [`### ${label}`, "", "Only one variant: no tests.", ""];
  return [`### ${label}`, "", markdownTable(testsTable(s)), "", "Post-hoc paired t-tests (a − b per fold, Holm-adjusted over all pairs):", "", markdownTable(posthocTable(s)), ""];
}

export const COST_NOTE =
  "One point per variant: its mean FID (KID) over folds against its measured seconds per image, with the fold spread (± sd) along both axes; the label gives the network evaluations per image (NFE). The times are wall time of the sampling loop on the machine, engine and threads named in the variants table: they vary with the machine and its load, NFE does not.";

/** What the training curves show, from report.json. */
export function curvesNote(r: EvalReport): string {
  return r.curves ? `Per fold training: the loss, the KL term (${r.curves.kl}) and the perceptual loss (${r.curves.perceptual}).` : "";
}

export const TEXT_CONTROL_BY_VALUE_NOTE =
  "Pooled over folds: of the images whose caption asked for the value, the share the classifier reads as showing it (images right / asked). Few images stand behind each share: read it to see which values a model draws and which it misses, not as a test.";

export const TEXT_CONTROL_NOTE =
  "Mean over folds, at the model resolution. Chance: how often another held-out pair has the same value (what a generator that ignores the text would reach with a perfect classifier). Classifier on real: the domain classifier on the held-out real images, the ceiling a generated image can be held to. Generated: the images generated from the pairs' captions; in brackets as a fraction of the classifier's rate on real images.";

/**
 * The verdict of the FID comparison: lowest mean FID, then the test that respects the pairing by
 * fold and the design (Greenhouse–Geisser p with k ≥ 3 variants; with two, the exact sign and
 * Wilcoxon p beside the paired t), the exact Friedman p, and the real-vs-real floor.
 */
export function headline(r: EvalReport): string {
  const best = r.summary.variants.find((v) => v.name === r.summary.best_fid);
  const parts = [`Lowest mean FID: ${r.summary.best_fid}${best ? ` (${num(best.fid.mean)} ± ${num(best.fid.sd)} over ${r.cv.k} folds)` : ""}.`];
  const rm = r.summary.fid_rm_anova;
  const tests = r.summary.fid_tests;
  if (rm && r.variants.length >= 3) {
    parts.push(`Repeated-measures ANOVA of FID, Greenhouse–Geisser corrected: p = ${pval(rm.p_gg)} (F = ${num(rm.F)}; uncorrected p = ${pval(rm.p)}).`);
  } else if (rm && tests) {
    parts.push(`FID differences per fold: exact sign test p = ${pval(tests.sign_test_p)}, Wilcoxon signed-rank p = ${pval(tests.wilcoxon_p)}, paired t p = ${pval(rm.p)}.`);
  }
  if (tests) parts.push(`Friedman ${tests.friedman_method === "chi-square" ? "(χ² approximation)" : tests.friedman_method === "exact" ? "(exact)" : "(permutation)"} p = ${pval(tests.friedman_p)}.`);
  const floor = r.summary.real_floor;
  if (floor) parts.push(`Real vs real at the same n (the floor): FID ${num(floor.fid)}, KID ${num(floor.kid)}.`);
  return parts.join(" ");
}

export function renderMarkdown(r: EvalReport): string {
  const out: string[] = [];
  out.push(`# Eval report: ${r.experiment.name}`, "");
  out.push(
    `${r.cv.k}-fold cross-validation on ${r.dataset.name} (${r.dataset.n_pairs} pairs), ${r.variants.length} variant${r.variants.length === 1 ? "" : "s"}, features ${r.extractor.spec} (${r.extractor.dims} dims), ` +
      `${r.sampling.samples_per_fold} generated images per fold and variant. diffx ${r.diffx_version}.`,
    "",
    headline(r),
    "",
  );
  const plots = reportPlots(r);
  const links = (files: string[]): string[] => plots.filter((p) => files.includes(p.file)).map((p) => `![${p.caption}](${PLOTS_DIR}/${p.file})`);
  out.push("## Summary (per variant, over folds)", "", markdownTable(summaryTable(r)), "");
  out.push(...links(["fid-per-fold.svg", "kid-per-fold.svg"]), "");
  if (plots.some((p) => p.file === "cost-fid.svg")) out.push("## Quality against cost", "", COST_NOTE, "", ...links(["cost-fid.svg", "cost-kid.svg"]), "");
  out.push("## Per-fold scores", "", "CIs per cell are BCa bootstrap intervals over that fold's held-out pairs (each resampled with its generated images); the real-vs-real floor is FID/KID between two disjoint sets of real images of the same sizes.", "", markdownTable(perFoldTable(r)), "");
  const tc = textControlTable(r);
  if (tc) {
    out.push("## Text control against its ceiling", "", TEXT_CONTROL_NOTE, "", markdownTable(tc), "");
  }
  const byValue = textControlByValueTable(r);
  if (byValue) out.push("### By the value asked for", "", TEXT_CONTROL_BY_VALUE_NOTE, "", markdownTable(byValue), "");
  out.push("## Statistics", "");
  out.push(...statsSection("FID", r.stats.fid), ...statsSection("KID", r.stats.kid));
  out.push("## How the numbers were computed", "");
  for (const [k, v] of provenance(r)) out.push(`- **${k}**: ${v}`);
  out.push("", "### Variants", "", markdownTable(variantsTable(r)), "", "### Folds", "", markdownTable(foldsTable(r)), "");
  out.push("## Training", "");
  if (r.curves) out.push(curvesNote(r), "");
  out.push(...links(["training-loss.svg", "training-kl.svg", "training-perceptual.svg"]), "", markdownTable(trainingTable(r)), "");
  out.push("## Real vs generated", "");
  if (r.comparison.grid) {
    out.push(`Rows: held-out real images (${r.comparison.rows.map((x) => `fold ${x.fold} ${x.pair_id}`).join(", ")}); columns: real${r.comparison.rows.some((x) => x.sketch) ? ", sketch" : ""}, then each variant's image generated from the same condition.`, "");
    out.push(`![real vs generated](${r.comparison.grid})`, "");
  } else out.push("No comparison rows.", "");
  out.push("## Caveats", "");
  for (const c of r.caveats) out.push(`- ${c}`);
  out.push("");
  return out.join("\n");
}
