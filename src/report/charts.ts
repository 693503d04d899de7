/** The report's SVG plots, drawn from report.json with line-chart.ts. */
import { lineChartSvg } from "./line-chart.js";
import type { EvalReport } from "./report-types.js";

/** Per-fold FID (or KID), one line per variant. */
export function perFoldChart(r: EvalReport, metric: "fid" | "kid"): string {
  const series = r.variants.map((v) => ({
    name: v.name,
    points: r.cells.filter((c) => c.variant === v.name).map((c): [number, number] => [c.fold, metric === "fid" ? c.fid : c.kid]),
  }));
  const label = metric === "fid" ? "FID" : "KID";
  return lineChartSvg(series, { title: `${label} per fold (lower is better)`, xLabel: "fold", yLabel: label, width: 560, height: 300 });
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
