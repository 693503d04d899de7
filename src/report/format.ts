/** Number formatting for reports (locale-independent: toPrecision/toExponential only). */

/** A value to `digits` significant digits; n/a for NaN, ±inf for infinities. */
export function num(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "n/a";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (v === 0) return "0";
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const a = Math.abs(v);
  if (a < 1e-4 || a >= 1e7) return v.toExponential(digits - 1);
  return String(Number(v.toPrecision(digits)));
}

/** A p-value: 4 decimals, or scientific below 1e-4. */
export function pval(p: number | null | undefined): string {
  if (p === null || p === undefined || Number.isNaN(p)) return "n/a";
  return p < 1e-4 ? p.toExponential(2) : p.toFixed(4);
}

export function interval(ci: [number, number] | null | undefined, digits = 4): string {
  return ci ? `[${num(ci[0], digits)}, ${num(ci[1], digits)}]` : "–";
}

export function meanSd(m: { mean: number; sd: number } | null | undefined, digits = 4): string {
  return m ? `${num(m.mean, digits)} ± ${num(m.sd, digits)}` : "–";
}

/** A rate in [0, 1] as a percentage. */
export function percent(v: number | null | undefined): string {
  return v === null || v === undefined || Number.isNaN(v) ? "–" : `${(v * 100).toFixed(1)} %`;
}

/** mean ± sd of rates, as percentages. */
export function percentMeanSd(m: { mean: number; sd: number } | null | undefined): string {
  return m ? `${percent(m.mean)} ± ${percent(m.sd)}` : "–";
}

/** A whole number with thin groups of three digits (1 373 155), locale-independent. */
export function count(v: number): string {
  return String(Math.round(v)).replace(/\B(?=(\d{3})+(?!\d))/g, " ");
}

/** [low, high] of whole numbers as one number when equal, else "low–high". */
export function countRange(r: [number, number]): string {
  return r[0] === r[1] ? count(r[0]) : `${count(r[0])}–${count(r[1])}`;
}
