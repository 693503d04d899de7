/**
 * Exact rescaling of a table's values by a power of two, so that sums of squares stay inside
 * float64 whatever the values' magnitude (1e300 squares to Infinity, 1e-300 to 0).
 *
 * Multiplying by a power of two changes only the exponent, so it is exact (short of the
 * subnormal range), and every scale-free statistic — t, F, p, ε, η², ranks — comes out the same
 * bits as on the original values whenever those did not overflow or underflow. Means, standard
 * deviations and intervals are divided by the same factor afterwards.
 */

/** The power of two that brings the largest |x| into (½, 1] (1 when all are 0 or not finite). */
export function unitScale(xs: Iterable<number>): number {
  let max = 0;
  for (const x of xs) if (Math.abs(x) > max) max = Math.abs(x);
  if (max === 0 || !Number.isFinite(max)) return 1;
  // below 2^-1000 a scaled maximum of 2^-74 or so is still far from underflow; 2^1074 itself would overflow
  const exponent = Math.max(-1000, Math.ceil(Math.log2(max)));
  return 2 ** -exponent;
}

/** `values` (rows of a table) times `scale`. */
export function scaleRows(values: readonly (readonly number[])[], scale: number): number[][] {
  return values.map((row) => row.map((v) => v * scale));
}
