/**
 * The report's SVG plots, drawn from report.json with line-chart.ts and scatter-chart.ts.
 * report.html shows them inline and report.md links them as files (`reportPlots`, written to
 * eval/plots/ by write.ts).
 */
import { lineChartSvg, type Series } from "./line-chart.js";
import type { EvalReport } from "./report-types.js";
import { scatterChartSvg, type ScatterPoint } from "./scatter-chart.js";

/**
 * Per-fold FID (or KID), one line per variant with its bootstrap interval as whiskers (offset a
 * little along x so variants do not hide each other), and the real-vs-real floor of each fold as
 * a dashed grey line: what two disjoint sets of real images score at the same n.
 */
export function perFoldChart(r: EvalReport, metric: "fid" | "kid"): string {
  const nv = r.variants.length;
  const series: Series[] = r.variants.map((v, i) => {
    const dx = nv > 1 ? (i - (nv - 1) / 2) * 0.06 : 0;
    const cells = r.cells.filter((c) => c.variant === v.name);
    return {
      name: `${v.name}${cells.some((c) => c[`${metric}_ci`]) ? " (BCa 95 % CI)" : ""}`,
      points: cells.map((c): [number, number] => [c.fold + dx, metric === "fid" ? c.fid : c.kid]),
      whiskers: cells.flatMap((c): [number, number, number][] => {
        const ci = c[`${metric}_ci`];
        return ci ? [[c.fold + dx, ci[0], ci[1]]] : [];
      }),
    };
  });
  const floor = r.cv.folds.filter((f) => f.real_floor).map((f): [number, number] => [f.fold, f.real_floor![metric]]);
  if (floor.length) series.push({ name: "real vs real floor", points: floor, color: "#777", dashed: true });
  const label = metric === "fid" ? "FID" : "KID";
  return lineChartSvg(series, { title: `${label} per fold (lower is better; dashed: real-vs-real floor)`, xLabel: "fold", yLabel: label, width: 560, height: 300, integerX: true });
}

/** Training loss (log scale) of every fold training. */
export function lossChart(r: EvalReport): string {
  return lineChartSvg(
    r.training.map((t) => ({ name: `${t.run}`, points: t.loss })),
    { title: "training loss per fold", xLabel: "step", yLabel: "loss", logY: true, width: 560, height: 300 },
  );
}

/** The VLB/KL term L_t (bits/dim) on held-out pairs, per fold training. */
export function klChart(r: EvalReport): string {
  return lineChartSvg(
    r.training.map((t) => ({ name: `${t.run}`, points: t.kl })),
    { title: "KL term L_t on held-out pairs (bits/dim)", xLabel: "step", yLabel: "bits/dim", logY: true, width: 560, height: 300 },
  );
}

/** The perceptual loss (domain-feature distance of x̂₀ and x₀ on held-out pairs), per fold training; null when no training logged it. */
export function perceptualChart(r: EvalReport): string | null {
  if (!r.training.some((t) => t.perceptual?.length)) return null;
  return lineChartSvg(
    r.training.map((t) => ({ name: `${t.run}`, points: t.perceptual ?? [] })),
    { title: "perceptual loss on held-out pairs (domain features, x̂₀ vs x₀)", xLabel: "step", yLabel: "feature distance", width: 560, height: 300 },
  );
}

/** Spread the x axis by decades when the costs span more than this ratio. */
const LOG_X_RATIO = 20;

/**
 * Quality against cost: per variant its mean FID (or KID) over folds against its measured mean
 * seconds per image, with the fold spread (± sd) along both axes; the label names the variant and
 * its NFE per image. Null when no variant has a cost record.
 */
export function costChart(r: EvalReport, metric: "fid" | "kid"): string | null {
  const points: ScatterPoint[] = [];
  r.variants.forEach((v) => {
    const row = r.summary.variants.find((x) => x.name === v.name);
    if (!v.cost || !row) return;
    const q = row[metric];
    const sd = Number.isFinite(q.sd) ? q.sd : 0;
    const c = v.cost;
    points.push({
      name: `${v.name} (${c.nfe} NFE)`,
      x: c.seconds_per_image,
      y: q.mean,
      xRange: [Math.max(c.seconds_per_image - c.seconds_per_image_sd, c.seconds_per_image * 0.01), c.seconds_per_image + c.seconds_per_image_sd],
      yRange: [q.mean - sd, q.mean + sd],
    });
  });
  if (!points.length) return null;
  const xs = points.map((p) => p.x);
  const label = metric === "fid" ? "FID" : "KID";
  return scatterChartSvg(points, {
    title: `${label} against sampling cost (mean ± sd over folds; lower-left is better)`,
    xLabel: "seconds per image, measured on this machine",
    yLabel: `${label} (mean over folds)`,
    logX: Math.max(...xs) / Math.min(...xs) > LOG_X_RATIO,
  });
}

/** Folder of the plot files, inside the eval folder. */
export const PLOTS_DIR = "plots";

export interface ReportPlot {
  /** File name under eval/plots/. */
  file: string;
  /** What it shows, for a link text. */
  caption: string;
  svg: string;
}

/** Every plot of the report, in the order the HTML shows them (the cost plots only when variants have costs). */
export function reportPlots(r: EvalReport): ReportPlot[] {
  const plots: (ReportPlot | null)[] = [
    { file: "fid-per-fold.svg", caption: "FID per fold", svg: perFoldChart(r, "fid") },
    { file: "kid-per-fold.svg", caption: "KID per fold", svg: perFoldChart(r, "kid") },
    withSvg("cost-fid.svg", "FID against seconds per image", costChart(r, "fid")),
    withSvg("cost-kid.svg", "KID against seconds per image", costChart(r, "kid")),
    { file: "training-loss.svg", caption: "training loss per fold", svg: lossChart(r) },
    { file: "training-kl.svg", caption: "KL term L_t per fold", svg: klChart(r) },
    withSvg("training-perceptual.svg", "perceptual loss per fold", perceptualChart(r)),
  ];
  return plots.filter((p): p is ReportPlot => p !== null);
}

function withSvg(file: string, caption: string, svg: string | null): ReportPlot | null {
  return svg === null ? null : { file, caption, svg };
}
