/**
 * A small, dependency-free SVG line chart (loss curves, per-fold FID). Series may have
 * different x values and a log-scaled y axis.
 */
export interface Series {
  name: string;
  points: [number, number][];
  color?: string;
  /** Dashed line (reference levels such as a floor). */
  dashed?: boolean;
  /** Vertical interval whiskers [x, low, high] (confidence intervals). */
  whiskers?: [number, number, number][];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  logY?: boolean;
  /** Whole-number x ticks only (folds, counts): no "0.5" between fold 0 and fold 1. */
  integerX?: boolean;
}

export const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** [min, max] of `v` ([Infinity, -Infinity] when empty, as Math.min() and Math.max() give). */
function extent(v: readonly number[]): [number, number] {
  let lo = Number.POSITIVE_INFINITY, hi = Number.NEGATIVE_INFINITY;
  for (const x of v) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return [lo, hi];
}

export function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(1) : Number(v.toPrecision(3)).toString();
}

export function lineChartSvg(series: Series[], o: ChartOptions): string {
  const W = o.width ?? 640, H = o.height ?? 360;
  const m = { l: 64, r: 16, t: 32, b: 44 };
  const all = series.flatMap((s) => [...s.points, ...(s.whiskers ?? []).flatMap(([x, lo, hi]): [number, number][] => [[x, lo], [x, hi]])]).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.logY || y > 0));
  const xs = all.map((p) => p[0]), ys = all.map((p) => (o.logY ? Math.log10(p[1]) : p[1]));
  // loops, not Math.min(...xs): a run logged at every one of 200 000 steps would overflow the call stack
  let [x0, x1] = extent(xs), [y0, y1] = extent(ys);
  if (!all.length) (x0 = 0), (x1 = 1), (y0 = 0), (y1 = 1);
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) (y0 -= 0.5), (y1 += 0.5);
  // headroom above the data for the legend (16-px rows), so it does not hide points or whiskers; a
  // legend taller than 60 % of the plot (15 fold trainings) goes into columns instead
  const plotH = H - m.t - m.b;
  const maxRows = Math.max(1, Math.floor((0.6 * plotH - 12) / 16));
  const legendCols = Math.ceil(series.length / maxRows);
  const legendRows = Math.ceil(series.length / Math.max(1, legendCols));
  const legendColW = (W - m.l - m.r - 20) / Math.max(1, legendCols);
  const legend = (legendRows * 16 + 12) / plotH;
  y1 += ((y1 - y0) * legend) / (1 - legend);
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${esc(o.title)}</text>`);
  const xTicks = o.integerX ? niceTicks(x0, x1).filter(Number.isInteger) : niceTicks(x0, x1);
  for (const t of xTicks) parts.push(`<line x1="${px(t)}" y1="${H - m.b}" x2="${px(t)}" y2="${H - m.b + 4}" stroke="#333"/><text x="${px(t)}" y="${H - m.b + 16}" text-anchor="middle">${fmt(t)}</text>`);
  for (const t of niceTicks(y0, y1)) {
    const label = o.logY ? fmt(Math.pow(10, t)) : fmt(t);
    parts.push(`<line x1="${m.l}" y1="${py(t)}" x2="${W - m.r}" y2="${py(t)}" stroke="#eee"/><text x="${m.l - 6}" y="${py(t) + 4}" text-anchor="end">${label}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${W / 2}" y="${H - 8}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(`<text x="14" y="${H / 2}" text-anchor="middle" transform="rotate(-90 14 ${H / 2})">${esc(o.yLabel)}${o.logY ? " (log)" : ""}</text>`);
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.logY || y > 0));
    if (pts.length) {
      const d = pts.map(([x, y], k) => `${k ? "L" : "M"}${px(x).toFixed(1)},${py(o.logY ? Math.log10(y) : y).toFixed(1)}`).join("");
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`);
      if (pts.length <= 30) for (const [x, y] of pts) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(o.logY ? Math.log10(y) : y).toFixed(1)}" r="2.5" fill="${color}"/>`);
    }
    for (const [x, lo, hi] of s.whiskers ?? []) {
      if (![x, lo, hi].every(Number.isFinite) || (o.logY && !(lo > 0 && hi > 0))) continue;
      const X = px(x).toFixed(1), Y0 = py(o.logY ? Math.log10(lo) : lo).toFixed(1), Y1 = py(o.logY ? Math.log10(hi) : hi).toFixed(1);
      parts.push(`<path d="M${X},${Y0}L${X},${Y1}M${(px(x) - 3).toFixed(1)},${Y0}h6M${(px(x) - 3).toFixed(1)},${Y1}h6" stroke="${color}" stroke-width="1" fill="none"/>`);
    }
    const lx = m.l + 10 + Math.floor(i / legendRows) * legendColW, row = i % legendRows;
    parts.push(`<rect x="${lx.toFixed(1)}" y="${m.t + 8 + row * 16}" width="10" height="10" fill="${color}"/><text x="${(lx + 16).toFixed(1)}" y="${m.t + 17 + row * 16}">${esc(s.name)}</text>`);
  });
  parts.push(`</svg>`);
  return parts.join("\n");
}
