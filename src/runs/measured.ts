/**
 * Measurements that differ between a run and its re-run by construction, and so stay out of
 * `diffx verify`'s comparisons: in report.json and an eval cell's cell.json, every `cost` object
 * (a variant's or cell's sampling cost) is compared by its `nfe` alone — its times, rates, the
 * engine, threads and machine that measured them and the trainings running meanwhile are
 * measurements. (metrics.jsonl's wall-clock fields are the stage runners' `timingFields`.)
 */

/** The key of a sampling-cost record, and the one field of it that is arithmetic, not measured. */
const COST_KEY = "cost";
const COST_COMPARED = ["nfe"];

/** A JSON value with every `cost` object reduced to its compared fields. */
export function withoutMeasurements(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutMeasurements);
  if (typeof v !== "object" || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === COST_KEY && typeof x === "object" && x !== null && !Array.isArray(x)) {
      out[k] = Object.fromEntries(Object.entries(x).filter(([f]) => COST_COMPARED.includes(f)));
    } else out[k] = withoutMeasurements(x);
  }
  return out;
}
