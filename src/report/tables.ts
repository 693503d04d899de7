/**
 * The report's tables as plain data (header + rows of text), built from report.json once and
 * rendered by both report.md and report.html, so the two always show the same numbers.
 */
import { summarise, type StatsResult } from "../stats/index.js";
import { count, countRange, interval, meanSd, num, percent, percentMeanSd, pval } from "./format.js";
import type { EvalReport, ValueTally } from "./report-types.js";

export interface Table {
  header: string[];
  rows: string[][];
}

function hasText(r: EvalReport): boolean {
  return r.cells.some((c) => c.text_control);
}

function hasSketch(r: EvalReport): boolean {
  return r.cells.some((c) => c.sketch_fidelity);
}

function hasCost(r: EvalReport): boolean {
  return r.variants.some((v) => v.cost);
}

function hasParameters(r: EvalReport): boolean {
  return r.variants.some((v) => v.parameters);
}

/** A ratio of parameters as a percentage with enough digits for a small adapter (0.42 %). */
function ratioText(r: [number, number]): string {
  const p = (x: number): string => `${num(x * 100, 3)} %`;
  return p(r[0]) === p(r[1]) ? p(r[0]) : `${p(r[0])}–${p(r[1])}`;
}

/** "1 234 / 56 789", or "56 789 (all)" when every parameter is trained. */
function paramsText(p: NonNullable<EvalReport["variants"][number]["parameters"]>): string {
  const all = p.trainable[0] === p.total[0] && p.trainable[1] === p.total[1];
  return all ? `${countRange(p.total)} (all)` : `${countRange(p.trainable)} / ${countRange(p.total)}`;
}

/**
 * Per variant: mean ± sd and the t-based 95 % CI over folds; what an image cost (NFE, measured
 * seconds per image ± sd over folds, images/s); trainable and total parameters.
 */
export function summaryTable(r: EvalReport): Table {
  const header = ["variant", "FID mean ± sd", "FID 95 % CI", "KID mean ± sd", "KID 95 % CI"];
  if (hasText(r)) header.push("text control mean ± sd");
  if (hasSketch(r)) header.push("sketch F1 mean ± sd");
  if (hasCost(r)) header.push("NFE / image", "s / image (measured)", "images / s");
  if (hasParameters(r)) header.push("trainable / total params", "trainable share");
  const rows = r.summary.variants.map((v) => {
    const row = [v.name, meanSd(v.fid), interval(v.fid.ci95), meanSd(v.kid), interval(v.kid.ci95)];
    if (hasText(r)) row.push(percentMeanSd(v.text_control));
    if (hasSketch(r)) row.push(meanSd(v.sketch_f1, 3));
    const variant = r.variants.find((x) => x.name === v.name);
    if (hasCost(r)) {
      const c = variant?.cost;
      row.push(c ? String(c.nfe) : "–", c ? `${num(c.seconds_per_image, 3)} ± ${num(c.seconds_per_image_sd, 2)}` : "–", c ? num(c.images_per_s, 3) : "–");
    }
    if (hasParameters(r)) {
      const p = variant?.parameters;
      row.push(p ? paramsText(p) : "–", p ? ratioText(p.ratio) : "–");
    }
    return row;
  });
  const floors = r.cv.folds.flatMap((f) => (f.real_floor ? [f.real_floor] : []));
  if (floors.length) {
    const fid = summarise(floors.map((f) => f.fid)), kid = summarise(floors.map((f) => f.kid));
    const row = ["real vs real (floor)", meanSd(fid), floors.length > 1 ? interval(fid.ci95) : "–", meanSd(kid), floors.length > 1 ? interval(kid.ci95) : "–"];
    while (row.length < header.length) row.push("–");
    rows.push(row);
  }
  return { header, rows };
}

/** The fold's real-vs-real floor as table cells (FID, KID), "–" when absent. */
function floorCells(r: EvalReport, fold: number): [string, string] {
  const f = r.cv.folds.find((x) => x.fold === fold)?.real_floor;
  return f ? [`${num(f.fid)} (${f.n_a} vs ${f.n_b})`, num(f.kid)] : ["–", "–"];
}

/** Every fold × variant cell. */
export function perFoldTable(r: EvalReport): Table {
  const header = ["fold", "variant", "FID", "FID 95 % CI", "floor FID (real vs real)", "KID", "KID 95 % CI", "floor KID", "n real", "n gen", "checkpoint"];
  if (hasText(r)) header.push("text control", "classifier on real", "÷ real");
  if (hasSketch(r)) header.push("sketch F1", "real F1", "chance F1");
  const rows = r.cells.map((c) => {
    const [floorFid, floorKid] = floorCells(r, c.fold);
    const row = [String(c.fold), c.variant, num(c.fid), interval(c.fid_ci), floorFid, num(c.kid), interval(c.kid_ci), floorKid, String(c.n_real), String(c.n_generated), `${c.train_run} @ ${c.checkpoint_step}`];
    if (hasText(r)) row.push(percent(c.text_control?.success_rate), percent(c.text_control?.real_success_rate), num(c.text_control?.success_vs_real, 3));
    if (hasSketch(r)) row.push(num(c.sketch_fidelity?.f1, 3), num(c.sketch_fidelity?.real_f1, 3), num(c.sketch_fidelity?.chance_f1, 3));
    return row;
  });
  return { header, rows };
}

/**
 * Text control against its ceiling, per attribute and for all attributes at once, averaged over
 * folds: chance (another held-out pair's value), the classifier on the real held-out images (the
 * ceiling), and each variant's generated images, also as a fraction of the real images' rate.
 * Null when no cell measured text control.
 */
export function textControlTable(r: EvalReport): Table | null {
  const cells = r.cells.filter((c) => c.text_control);
  if (!cells.length) return null;
  const mean = (xs: (number | null | undefined)[]): number | null => {
    const v = xs.filter((x): x is number => typeof x === "number" && Number.isFinite(x));
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  const firstVariant = r.variants[0]?.name;
  const realCells = cells.filter((c) => c.variant === firstVariant);
  const attributes = [...new Set(cells.flatMap((c) => c.text_control?.attributes ?? []))];
  const header = ["attribute", "chance", "classifier on real (ceiling)", ...r.variants.map((v) => `${v.name}: generated (÷ real)`)];
  const row = (label: string, pick: (t: NonNullable<typeof cells[number]["text_control"]>) => { gen: number | undefined; real: number | undefined; chance: number | null | undefined }): string[] => {
    const real = mean(realCells.map((c) => pick(c.text_control!).real));
    const chance = mean(realCells.map((c) => pick(c.text_control!).chance));
    return [
      label,
      percent(chance),
      percent(real),
      ...r.variants.map((v) => {
        const vc = cells.filter((c) => c.variant === v.name);
        const gen = mean(vc.map((c) => pick(c.text_control!).gen));
        const realV = mean(vc.map((c) => pick(c.text_control!).real));
        return `${percent(gen)} (${gen !== null && realV ? num(gen / realV, 3) : "–"})`;
      }),
    ];
  };
  const rows = attributes.map((a) => row(a, (t) => ({ gen: t.attribute_accuracy[a], real: t.real_attribute_accuracy?.[a], chance: t.chance_attribute_accuracy?.[a] })));
  rows.push(row("all attributes (success)", (t) => ({ gen: t.success_rate, real: t.real_success_rate, chance: t.chance_success_rate })));
  return { header, rows };
}

/**
 * Text control by the value the caption asked for (count "1" … "4", each colour, …), pooled over
 * folds: of the images asked for the value, the share the classifier reads as showing it, with
 * the images behind each share. It shows which values a model draws and which it misses (a model
 * that draws one subject but not three). Null when no cell recorded the tallies.
 */
export function textControlByValueTable(r: EvalReport): Table | null {
  const cells = r.cells.filter((c) => c.text_control?.by_value);
  if (!cells.length) return null;
  const firstVariant = r.variants[0]?.name;
  const pooled = (tallies: (Record<string, Record<string, ValueTally>> | undefined)[], a: string, value: string): string => {
    let n = 0;
    let hits = 0;
    for (const t of tallies) {
      n += t?.[a]?.[value]?.n ?? 0;
      hits += t?.[a]?.[value]?.hits ?? 0;
    }
    return n ? `${percent(hits / n)} (${hits}/${n})` : "–";
  };
  const attributes = [...new Set(cells.flatMap((c) => c.text_control?.attributes ?? []))];
  const header = ["attribute = value asked", "classifier on real", ...r.variants.map((v) => `${v.name}: generated`)];
  const rows: string[][] = [];
  for (const a of attributes) {
    const values = [...new Set(cells.flatMap((c) => Object.keys(c.text_control?.by_value?.[a] ?? {})))].sort((x, y) => x.localeCompare(y, "en", { numeric: true }));
    for (const value of values) {
      rows.push([
        `${a} = ${value}`,
        pooled(cells.filter((c) => c.variant === firstVariant).map((c) => c.text_control?.real_by_value), a, value),
        ...r.variants.map((v) => pooled(cells.filter((c) => c.variant === v.name).map((c) => c.text_control?.by_value), a, value)),
      ]);
    }
  }
  return { header, rows };
}

/** How the Friedman p in a table was computed. */
function friedmanPLabel(s: StatsResult): string {
  const fr = s.friedman;
  if (fr.exact?.method === "enumeration") return `${pval(fr.p)} (exact)`;
  if (fr.exact) return `${pval(fr.p)} ± ${pval(fr.exact.mc_se)} (permutation, ${fr.exact.permutations})`;
  return `${pval(fr.p)} (χ² approx.)`;
}

/**
 * The omnibus tests of one metric, every one paired by fold. With k ≥ 3 variants the
 * Greenhouse–Geisser corrected repeated-measures ANOVA comes first; with two, the exact sign
 * and Wilcoxon tests stand beside the paired t-test (which the RM ANOVA equals there).
 */
export function testsTable(s: StatsResult): Table {
  const rm = s.rm_anova, fr = s.friedman;
  const eta = `partial η² = ${num(rm.partial_eta2, 3)}, generalized η² = ${num(rm.generalized_eta2, 3)}`;
  const friedmanRow = ["Friedman (ranks within folds)", `χ² = ${num(fr.chi2)}`, num(fr.df), friedmanPLabel(s), `χ² approx. p = ${pval(fr.p_chi2)}`];
  if (s.paired) {
    const { sign_test: st, wilcoxon: w } = s.paired;
    return {
      header: ["test", "statistic", "df", "p", "effect size / note"],
      rows: [
        ["sign test, exact (a − b per fold)", `${st.wins} wins, ${st.losses} losses, ${st.ties} ties`, "–", pval(st.p), ""],
        [`Wilcoxon signed-rank, ${w.method === "exact" ? "exact" : "normal approximation"}`, `W = ${num(w.statistic)} (R+ = ${num(w.r_plus)})`, `n = ${w.n}`, pval(w.p), ""],
        ["paired t-test (= repeated-measures ANOVA, F = t²)", `F = ${num(rm.F)}`, `${num(rm.df1)}, ${num(rm.df2)}`, pval(rm.p), eta],
        friedmanRow,
      ],
    };
  }
  return {
    header: ["test", "statistic", "df", "p", "effect size / note"],
    rows: [
      ["repeated-measures ANOVA, Greenhouse–Geisser corrected", `F = ${num(rm.F)}, ε = ${num(rm.epsilon_gg, 3)}`, `${num(rm.df1 * rm.epsilon_gg)}, ${num(rm.df2 * rm.epsilon_gg)}`, pval(rm.p_gg), eta],
      ["  uncorrected (assumes sphericity)", `F = ${num(rm.F)}`, `${num(rm.df1)}, ${num(rm.df2)}`, pval(rm.p), ""],
      friedmanRow,
    ],
  };
}

/** Paired t-tests between every pair of variants, Holm-adjusted. */
export function posthocTable(s: StatsResult): Table {
  return {
    header: ["a", "b", "t", "df", "p", "p (Holm)", "d_z"],
    rows: s.posthoc.map((p) => [p.a, p.b, num(p.t), num(p.df), pval(p.p), pval(p.p_holm), num(p.d_z, 3)]),
  };
}

/** How each variant sampled, what timed it, and how it was trained. */
export function variantsTable(r: EvalReport): Table {
  const header = ["variant", "sampler", "steps", "guidance", "η", "x̂₀ clip", "weights", "engine", "training", "overrides"];
  if (hasCost(r)) header.push("timed on");
  if (hasParameters(r)) header.push("adapter");
  return {
    header,
    rows: r.variants.map((v) => {
      const row = [
        v.name,
        v.sampler,
        String(v.steps),
        num(v.guidance),
        num(v.eta),
        v.clip_x0 > 0 ? num(v.clip_x0) : "off",
        v.ema ? "EMA" : "raw",
        [...new Set(r.cells.filter((c) => c.variant === v.name).map((c) => c.engine))].join(", ") || v.engine,
        v.training,
        Object.keys(v.overrides).length ? JSON.stringify(v.overrides) : "–",
      ];
      if (hasCost(r)) row.push(v.cost ? v.cost.engine + (v.cost.concurrent_trainings ? ` (with up to ${v.cost.concurrent_trainings} fold training${v.cost.concurrent_trainings === 1 ? "" : "s"} running)` : "") : "–");
      if (hasParameters(r)) row.push(v.parameters ? (v.parameters.adapter ?? "none (all parameters trained)") : "–");
      return row;
    }),
  };
}

/** The fold trainings. */
export function trainingTable(r: EvalReport): Table {
  const last = (curve: [number, number][] | undefined): string => (curve?.length ? num(curve[curve.length - 1][1]) : "–");
  return {
    header: ["fold", "run", "variants", "steps", "trainable / total params", "final loss", "last KL (bits/dim)", "last perceptual", "this invocation"],
    rows: r.training.map((t) => [
      String(t.fold),
      t.run,
      t.variants.join(", "),
      String(t.steps),
      t.parameters ? `${count(t.parameters.trainable)} / ${count(t.parameters.total)}` : "–",
      num(t.final_loss),
      last(t.kl),
      last(t.perceptual),
      t.reused ? "reused" : "trained",
    ]),
  };
}

/** The folds and their held-out pairs. */
export function foldsTable(r: EvalReport): Table {
  return {
    header: ["fold", "n train", "n held out", "held-out pair ids"],
    rows: r.cv.folds.map((f) => [String(f.fold), String(f.n_train), String(f.n_held_out), f.held_out.join(" ")]),
  };
}

/** "How the numbers were computed" as label/value lines. */
export function provenance(r: EvalReport): [string, string][] {
  return [
    ["experiment", `${r.experiment.name} (config ${r.experiment.config}, hash ${r.experiment.config_hash.slice(0, 16)}…, seed ${r.experiment.seed})`],
    ["dataset", `${r.dataset.name} (${r.dataset.kind}, ${r.dataset.n_pairs} pairs in ${r.dataset.n_groups} groups, ${r.dataset.image_size} px, hash ${r.dataset.hash.slice(0, 16)}…)`],
    ["folds", `${r.cv.k}-fold, pair-preserving${r.dataset.stratify ? `, stratified by ${r.dataset.stratify}` : ""}, split seed ${r.cv.split_seed}`],
    ["feature extractor", `${r.extractor.spec}: ${r.extractor.description} (${r.extractor.dims} dims)`],
    ["real images", r.images.real],
    ["generated images", `${r.sampling.samples_per_fold} per fold and variant, ${r.images.generated}; ${r.sampling.conditions}`],
    ["seeds", r.sampling.seed_rule],
    ["FID", "exact at any n: tr √(Σa Σb) as the sum of singular values of A Bᵀ (centred features / √(n−1)); Σ with n−1"],
    ["KID", `unbiased MMD² with the kernel (xᵀy/d + 1)³; up to ${r.kid.subsets} subsets of size min(${r.kid.subset_size}, n); ${r.kid.seed_rule}`],
    ["confidence intervals", r.bootstrap.resamples > 0 ? `per cell: bootstrap by held-out pair (${r.bootstrap.unit}), ${r.bootstrap.resamples} resamples, ${r.bootstrap.level * 100} %; ${r.bootstrap.method} ${r.bootstrap.seed_rule}. Per variant: mean ± t(0.975, k−1)·sd/√k over folds` : "per variant: mean ± t(0.975, k−1)·sd/√k over folds (no bootstrap)"],
    ...(r.cv.real_floor_rule ? [["real-vs-real floor", r.cv.real_floor_rule] as [string, string]] : []),
    ...(r.sampling.cost_rule ? [["cost", r.sampling.cost_rule] as [string, string]] : []),
    ...(r.curves ? [["training curves", `KL term: ${r.curves.kl}; perceptual loss: ${r.curves.perceptual}`] as [string, string]] : []),
    ["diffx", `${r.diffx_version}${r.git_commit ? ` (commit ${r.git_commit.slice(0, 12)})` : ""}, report created ${r.created}`],
  ];
}
