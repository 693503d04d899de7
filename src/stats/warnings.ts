/**
 * What a stats result cannot say, in words: every number in it that is not finite (a zero
 * variance makes t or F infinite or 0/0, a mean beyond ±1.8e308 is infinite) gets a warning
 * that names it and says why, so `diffx stats` never prints a bare inf or n/a without one.
 */
import type { StatsResult } from "./analyse.js";

const DEGENERATE = "a degenerate case, not evidence: read the rank tests (sign, Wilcoxon, Friedman) instead";

export function statsWarnings(r: StatsResult): string[] {
  const out: string[] = [];
  const explained: string[] = [];
  const say = (prefix: string, message: string): void => {
    explained.push(prefix);
    out.push(message);
  };

  for (const [variant, s] of Object.entries(r.summary)) {
    const bad = [["mean", s.mean], ["sd", s.sd], ["95% CI", s.ci95[0]], ["95% CI", s.ci95[1]]].filter(([, v]) => !Number.isFinite(v as number)).map(([k]) => k as string);
    if (bad.length > 0) {
      say(`summary.${variant}`, `variant ${variant}: its ${[...new Set(bad)].join(" and ")} exceed${bad.length === 1 ? "s" : ""} the float64 range (±1.8e308) and show as inf; the tests are computed on rescaled values and are not affected`);
    }
  }

  const rm = r.rm_anova;
  if (Number.isNaN(rm.F)) {
    say("rm_anova", "the variants score the same on every fold (up to each fold's own level): the repeated-measures ANOVA has no variance to test, so F, p and η² are n/a");
  } else if (rm.F === Number.POSITIVE_INFINITY) {
    say("rm_anova", `the variants differ by exactly the same amounts on every fold (no fold × variant residual): the repeated-measures ANOVA's F is infinite and its p 0 — ${DEGENERATE}`);
  }

  if (Number.isNaN(r.friedman.chi2)) say("friedman", "every fold ties all variants: Friedman's χ² is 0/0 and its p n/a");

  r.posthoc.forEach((pair, i) => {
    if (Number.isNaN(pair.t)) say(`posthoc.${i}`, `${pair.a} and ${pair.b} score the same on every fold: their paired t-test is 0/0 (t, p and d_z n/a)`);
    else if (!Number.isFinite(pair.t)) say(`posthoc.${i}`, `${pair.a} − ${pair.b} is the same on every fold: their paired t-test has zero variance, so t and d_z are infinite and p is 0 — ${DEGENERATE}`);
  });

  for (const where of nonFinite(r, "")) {
    if (!explained.some((p) => where === p || where.startsWith(p + "."))) out.push(`${where} is not a finite number (n/a or inf in the output)`);
  }
  return out;
}

/** Dotted paths of every number in `value` that is NaN or ±Infinity. */
function nonFinite(value: unknown, at: string): string[] {
  if (typeof value === "number") return Number.isFinite(value) ? [] : [at];
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) => nonFinite(v, at ? `${at}.${k}` : k));
}
