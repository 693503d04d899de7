/**
 * A small, dependency-free SVG scatter chart: one labelled point per item with horizontal and
 * vertical spread bars (quality against cost: one point per variant). Shares the axes' ticks and
 * colours with line-chart.ts; an optional log-scaled x axis for costs that span decades.
 */
import { esc, fmt, niceTicks, PALETTE } from "./line-chart.js";

export interface ScatterPoint {
  /** Written beside the point. */
  name: string;
  x: number;
  y: number;
  /** Spread bars [low, high] along each axis (e.g. mean ± sd over folds). */
  xRange?: [number, number];
  yRange?: [number, number];
  color?: string;
}

export interface ScatterOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  logX?: boolean;
}

export function scatterChartSvg(points: ScatterPoint[], o: ScatterOptions): string {
  const W = o.width ?? 560, H = o.height ?? 300;
  const m = { l: 64, r: 16, t: 32, b: 44 };
  const fx = (x: number): number => (o.logX ? Math.log10(x) : x);
  const usable = (x: number): boolean => Number.isFinite(x) && (!o.logX || x > 0);
  const shown = points.filter((p) => usable(p.x) && Number.isFinite(p.y));
  const xs = shown.flatMap((p) => [p.x, ...(p.xRange ?? [])]).filter(usable).map(fx);
  const ys = shown.flatMap((p) => [p.y, ...(p.yRange ?? [])]).filter(Number.isFinite);
  let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (!shown.length) (x0 = 0), (x1 = 1), (y0 = 0), (y1 = 1);
  if (x1 === x0) (x0 -= 0.5), (x1 += 0.5);
  if (y1 === y0) (y0 -= 0.5), (y1 += 0.5);
  // a margin inside the frame so that points, bars and labels do not sit on it
  const padX = (x1 - x0) * 0.12, padY = (y1 - y0) * 0.15;
  (x0 -= padX), (x1 += padX), (y0 -= padY), (y1 += padY);
  const px = (x: number): number => m.l + ((fx(x) - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y: number): number => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${esc(o.title)}</text>`);
  for (const t of niceTicks(x0, x1)) {
    const X = m.l + ((t - x0) / (x1 - x0)) * (W - m.l - m.r);
    parts.push(`<line x1="${X}" y1="${m.t}" x2="${X}" y2="${H - m.b}" stroke="#eee"/><text x="${X}" y="${H - m.b + 16}" text-anchor="middle">${fmt(o.logX ? Math.pow(10, t) : t)}</text>`);
  }
  for (const t of niceTicks(y0, y1)) parts.push(`<line x1="${m.l}" y1="${py(t)}" x2="${W - m.r}" y2="${py(t)}" stroke="#eee"/><text x="${m.l - 6}" y="${py(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${W / 2}" y="${H - 8}" text-anchor="middle">${esc(o.xLabel)}${o.logX ? " (log)" : ""}</text>`);
  parts.push(`<text x="14" y="${H / 2}" text-anchor="middle" transform="rotate(-90 14 ${H / 2})">${esc(o.yLabel)}</text>`);
  const placed: { x0: number; x1: number; y0: number; y1: number }[] = []; // label boxes drawn so far
  shown.forEach((p, i) => {
    const color = p.color ?? PALETTE[i % PALETTE.length];
    const X = px(p.x), Y = py(p.y);
    const bars: string[] = [];
    if (p.xRange && p.xRange.every(usable)) {
      const a = px(p.xRange[0]), b = px(p.xRange[1]);
      bars.push(`M${a.toFixed(1)},${Y.toFixed(1)}H${b.toFixed(1)}M${a.toFixed(1)},${(Y - 4).toFixed(1)}v8M${b.toFixed(1)},${(Y - 4).toFixed(1)}v8`);
    }
    if (p.yRange && p.yRange.every(Number.isFinite)) {
      const a = py(p.yRange[0]), b = py(p.yRange[1]);
      bars.push(`M${X.toFixed(1)},${a.toFixed(1)}V${b.toFixed(1)}M${(X - 4).toFixed(1)},${a.toFixed(1)}h8M${(X - 4).toFixed(1)},${b.toFixed(1)}h8`);
    }
    if (bars.length) parts.push(`<path d="${bars.join("")}" stroke="${color}" stroke-width="1.2" fill="none"/>`);
    parts.push(`<circle cx="${X.toFixed(1)}" cy="${Y.toFixed(1)}" r="5" fill="${color}"/>`);
    // the label on the side with more room, above the point, or lower down where an earlier
    // label already sits (variants of equal cost land on top of each other)
    const right = X < (m.l + W - m.r) / 2;
    const width = 6.5 * p.name.length; // about 6.5 px per character at the chart's font size
    const x0 = right ? X + 9 : X - 9 - width;
    const box = (y: number) => ({ x0, x1: x0 + width, y0: y - 11, y1: y + 3 });
    const overlaps = (b: ReturnType<typeof box>) => placed.some((q) => b.x0 < q.x1 && q.x0 < b.x1 && b.y0 < q.y1 && q.y0 < b.y1);
    const y = [Y - 7, Y + 19, Y - 21, Y + 33, Y - 35].find((c) => !overlaps(box(c))) ?? Y - 7;
    placed.push(box(y));
    parts.push(`<text x="${(X + (right ? 9 : -9)).toFixed(1)}" y="${y.toFixed(1)}" text-anchor="${right ? "start" : "end"}" fill="${color}">${esc(p.name)}</text>`);
  });
  parts.push(`</svg>`);
  return parts.join("\n");
}
