/** The report's SVG plots, drawn from report.json with line-chart.ts. */
import { lineChartSvg, type Series } from "./line-chart.js";
import type { EvalReport } from "./report-types.js";

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
  return lineChartSvg(series, { title: `${label} per fold (lower is better; dashed: real-vs-real floor)`, xLabel: "fold", yLabel: label, width: 560, height: 300 });
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
