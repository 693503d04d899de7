/**
 * Composition: where the subjects go. Subjects are big (a single one spans about half the
 * image) so that they stay recognisable when the image is area-downsampled to 16–32 px.
 */
import type { Rng } from "../../engine/rng.js";
import type { ShapeInstance, ShapeName } from "./shapes.js";

export const COMPOSITIONS = ["centered", "off-center", "row", "column", "diagonal", "grid", "scattered"] as const;
export type Composition = (typeof COMPOSITIONS)[number];

/** Compositions that make sense for a given subject count (1–4). */
export function compositionsFor(count: number): readonly Composition[] {
  if (count <= 1) return ["centered", "off-center"];
  if (count === 4) return ["grid", "scattered"];
  return ["row", "column", "diagonal", "scattered"];
}

function tilt(shape: ShapeName, rng: Rng): number {
  return shape === "circle" ? 0 : rng.range(-0.2, 0.2);
}

function scattered(shape: ShapeName, count: number, rng: Rng): ShapeInstance[] | null {
  const base = count === 2 ? 0.17 : count === 3 ? 0.135 : 0.12;
  const r = base * rng.range(0.92, 1.05);
  const m = 1.3 * r + 0.03;
  const out: ShapeInstance[] = [];
  for (let tries = 0; tries < 400 && out.length < count; tries++) {
    const cx = rng.range(m, 1 - m), cy = rng.range(m, 1 - m);
    if (out.every((s) => Math.hypot(s.cx - cx, s.cy - cy) >= 2.45 * r)) out.push({ shape, cx, cy, r, angle: tilt(shape, rng) });
  }
  return out.length === count ? out : null;
}

/** Place `count` subjects of one shape according to the composition. */
export function layoutSubjects(shape: ShapeName, count: number, composition: Composition, rng: Rng): ShapeInstance[] {
  const place = (cx: number, cy: number, r: number): ShapeInstance => ({ shape, cx, cy, r, angle: tilt(shape, rng) });
  switch (composition) {
    case "centered":
      return [place(0.5 + rng.range(-0.02, 0.02), 0.5 + rng.range(-0.02, 0.02), rng.range(0.25, 0.3))];
    case "off-center": {
      const r = rng.range(0.21, 0.25);
      return [place(rng.chance(0.5) ? 0.37 : 0.63, rng.chance(0.5) ? 0.37 : 0.63, r)];
    }
    case "row":
    case "column": {
      const s = 0.86 / count;
      const r = Math.min(0.19, s * 0.42) * rng.range(0.93, 1.0);
      const across = 0.5 + rng.range(-0.06, 0.06);
      return Array.from({ length: count }, (_, i) => {
        const along = 0.07 + s * (i + 0.5);
        return composition === "row" ? place(along, across, r) : place(across, along, r);
      });
    }
    case "diagonal": {
      const anti = rng.chance(0.5);
      const r = (count === 2 ? 0.165 : 0.13) * rng.range(0.93, 1.0);
      const half = 0.5 - (1.25 * r + 0.03);
      return Array.from({ length: count }, (_, i) => {
        const t = count === 1 ? 0 : (2 * i / (count - 1) - 1) * half;
        return place(0.5 + t, anti ? 0.5 - t : 0.5 + t, r);
      });
    }
    case "grid": {
      const r = rng.range(0.14, 0.16);
      const out: ShapeInstance[] = [];
      for (let i = 0; i < count; i++) out.push(place(i % 2 === 0 ? 0.29 : 0.71, i < 2 ? 0.29 : 0.71, r));
      for (const s of out) {
        s.cx += rng.range(-0.02, 0.02);
        s.cy += rng.range(-0.02, 0.02);
      }
      return out;
    }
    case "scattered":
      return scattered(shape, count, rng) ?? layoutSubjects(shape, count, count === 4 ? "grid" : "row", rng);
  }
}
