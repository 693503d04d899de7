/** Smooth 2D value noise on a seeded lattice (for pen jitter and stroke pressure). */
import type { Rng } from "../../engine/rng.js";

export class ValueNoise {
  private readonly values: Float64Array;

  /** `cells` lattice cells across the unit square; values uniform in [-1, 1]. */
  constructor(
    rng: Rng,
    private readonly cells: number,
  ) {
    this.values = new Float64Array((cells + 2) * (cells + 2));
    for (let i = 0; i < this.values.length; i++) this.values[i] = rng.range(-1, 1);
  }

  /** Noise at (u, v) in [0, 1]² (clamped), smoothstep-interpolated. */
  at(u: number, v: number): number {
    const n = this.cells;
    const x = Math.min(Math.max(u, 0), 1) * n, y = Math.min(Math.max(v, 0), 1) * n;
    const i = Math.min(Math.floor(x), n), j = Math.min(Math.floor(y), n);
    const fx = x - i, fy = y - j;
    const sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy);
    const w = n + 2;
    const a = this.values[j * w + i], b = this.values[j * w + i + 1], c = this.values[(j + 1) * w + i], d = this.values[(j + 1) * w + i + 1];
    return (a * (1 - sx) + b * sx) * (1 - sy) + (c * (1 - sx) + d * sx) * sy;
  }
}
