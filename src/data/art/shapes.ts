/**
 * Subject shapes as 2D signed distance functions (negative inside), after Inigo Quilez's
 * "2D distance functions". Coordinates are image units (0..1, y down); shapes are drawn
 * upright in the image.
 */

export const SHAPES = ["circle", "square", "triangle", "star", "diamond", "cross"] as const;
export type ShapeName = (typeof SHAPES)[number];

export const SHAPE_TEXT: Readonly<Record<ShapeName, { one: string; many: string; zh: string }>> = {
  circle: { one: "circle", many: "circles", zh: "圆形" },
  square: { one: "square", many: "squares", zh: "正方形" },
  triangle: { one: "triangle", many: "triangles", zh: "三角形" },
  star: { one: "star", many: "stars", zh: "五角星" },
  diamond: { one: "diamond", many: "diamonds", zh: "菱形" },
  cross: { one: "cross", many: "crosses", zh: "十字" },
};

/** One placed subject: centre, size (radius of the enclosing circle, roughly) and tilt. */
export interface ShapeInstance {
  shape: ShapeName;
  cx: number;
  cy: number;
  r: number;
  angle: number;
}

function box(px: number, py: number, bx: number, by: number): number {
  const dx = Math.abs(px) - bx, dy = Math.abs(py) - by;
  const ox = Math.max(dx, 0), oy = Math.max(dy, 0);
  return Math.hypot(ox, oy) + Math.min(Math.max(dx, dy), 0);
}

function triangle(px: number, py: number, r: number): number {
  // equilateral triangle with side 2r, centroid at the origin, apex up (y up)
  const k = Math.sqrt(3);
  px = Math.abs(px) - r;
  py = py + r / k;
  if (px + k * py > 0) {
    const nx = (px - k * py) / 2, ny = (-k * px - py) / 2;
    px = nx;
    py = ny;
  }
  px -= Math.min(Math.max(px, -2 * r), 0);
  return -Math.hypot(px, py) * Math.sign(py);
}

function star5(px: number, py: number, r: number, rf: number): number {
  const k1x = 0.809016994375, k1y = -0.587785252292;
  const k2x = -k1x, k2y = k1y;
  px = Math.abs(px);
  let t = 2 * Math.max(k1x * px + k1y * py, 0);
  px -= t * k1x;
  py -= t * k1y;
  t = 2 * Math.max(k2x * px + k2y * py, 0);
  px -= t * k2x;
  py -= t * k2y;
  px = Math.abs(px);
  py -= r;
  const bax = rf * -k1y, bay = rf * k1x - 1;
  const h = Math.min(Math.max((px * bax + py * bay) / (bax * bax + bay * bay), 0), r);
  return Math.hypot(px - bax * h, py - bay * h) * Math.sign(py * bax - px * bay);
}

function rhombus(px: number, py: number, bx: number, by: number): number {
  px = Math.abs(px);
  py = Math.abs(py);
  const ndot = (bx - 2 * px) * bx - (by - 2 * py) * by;
  const h = Math.min(Math.max(ndot / (bx * bx + by * by), -1), 1);
  const d = Math.hypot(px - 0.5 * bx * (1 - h), py - 0.5 * by * (1 + h));
  return d * Math.sign(px * by + py * bx - bx * by);
}

/** Signed distance from image point (u, v) to one shape instance. */
export function shapeDistance(s: ShapeInstance, u: number, v: number): number {
  const dx = u - s.cx, dy = v - s.cy;
  // rotate into the shape's frame; flip y so the SDFs above see y up
  const c = Math.cos(s.angle), sn = Math.sin(s.angle);
  const px = c * dx + sn * dy;
  const py = -(-sn * dx + c * dy);
  const r = s.r;
  switch (s.shape) {
    case "circle":
      return Math.hypot(px, py) - r;
    case "square":
      return box(px, py, r * 0.8, r * 0.8);
    case "triangle":
      return triangle(px, py + r * 0.12, r * 1.05);
    case "star":
      return star5(px, py + r * 0.06, r * 1.12, 0.5);
    case "diamond":
      return rhombus(px, py, r * 0.72, r * 1.08);
    case "cross":
      return Math.min(box(px, py, r * 0.95, r * 0.33), box(px, py, r * 0.33, r * 0.95));
  }
}

/** Signed distance to the union of all subjects; beyond 0.05 outside a shape it is only a lower bound (cheap). */
export function sceneDistance(shapes: readonly ShapeInstance[], u: number, v: number): number {
  let best = Infinity;
  for (const s of shapes) {
    const far = Math.hypot(u - s.cx, v - s.cy) - 1.4 * s.r;
    if (far > 0.05 && far > best) continue;
    const d = far > 0.05 ? far : shapeDistance(s, u, v);
    if (d < best) best = d;
  }
  return best;
}
