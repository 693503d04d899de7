/**
 * Triangle meshes of the 3D primitives (box, frustum = cylinder/cone, sphere, torus), placed
 * with a scale → rotate → translate transform. Every triangle carries per-vertex normals
 * (flat for box faces and caps, smooth for curved surfaces) and the id of the part it belongs to.
 */

export type Vec3 = [number, number, number];

export function sub(a: Vec3, b: Vec3): Vec3 {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}
export function add(a: Vec3, b: Vec3): Vec3 {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
}
export function scale(a: Vec3, s: number): Vec3 {
  return [a[0] * s, a[1] * s, a[2] * s];
}
export function dot(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
export function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}
export function normalize(a: Vec3): Vec3 {
  const l = Math.hypot(a[0], a[1], a[2]);
  return l > 0 ? [a[0] / l, a[1] / l, a[2] / l] : [0, 1, 0];
}

/** Scale, then rotate about z, x, y (radians, in that order), then translate. */
export interface Transform {
  scale?: Vec3;
  rotX?: number;
  rotY?: number;
  rotZ?: number;
  at?: Vec3;
}

function rotate(v: Vec3, t: Transform): Vec3 {
  let [x, y, z] = v;
  if (t.rotZ) {
    const c = Math.cos(t.rotZ), s = Math.sin(t.rotZ);
    [x, y] = [c * x - s * y, s * x + c * y];
  }
  if (t.rotX) {
    const c = Math.cos(t.rotX), s = Math.sin(t.rotX);
    [y, z] = [c * y - s * z, s * y + c * z];
  }
  if (t.rotY) {
    const c = Math.cos(t.rotY), s = Math.sin(t.rotY);
    [x, z] = [c * x + s * z, -s * x + c * z];
  }
  return [x, y, z];
}

function applyPoint(p: Vec3, t: Transform): Vec3 {
  const s = t.scale ?? [1, 1, 1];
  const r = rotate([p[0] * s[0], p[1] * s[1], p[2] * s[2]], t);
  const a = t.at ?? [0, 0, 0];
  return [r[0] + a[0], r[1] + a[1], r[2] + a[2]];
}

function applyNormal(n: Vec3, t: Transform): Vec3 {
  const s = t.scale ?? [1, 1, 1];
  return normalize(rotate(normalize([n[0] / s[0], n[1] / s[1], n[2] / s[2]]), t));
}

/** Flat triangle soup: 9 position and 9 normal numbers per triangle, one part id per triangle. */
export class Mesh {
  readonly pos: number[] = [];
  readonly nrm: number[] = [];
  readonly part: number[] = [];

  get triangles(): number {
    return this.part.length;
  }

  private tri(p: Vec3[], n: Vec3[], part: number, t: Transform): void {
    for (let k = 0; k < 3; k++) {
      const q = applyPoint(p[k], t), m = applyNormal(n[k], t);
      this.pos.push(q[0], q[1], q[2]);
      this.nrm.push(m[0], m[1], m[2]);
    }
    this.part.push(part);
  }

  private quad(a: Vec3, b: Vec3, c: Vec3, d: Vec3, na: Vec3, nb: Vec3, nc: Vec3, nd: Vec3, part: number, t: Transform): void {
    this.tri([a, b, c], [na, nb, nc], part, t);
    this.tri([a, c, d], [na, nc, nd], part, t);
  }

  /** Axis-aligned box with half-extents `half`, centred at the origin before the transform. */
  box(half: Vec3, part: number, t: Transform = {}): void {
    const [hx, hy, hz] = half;
    const faces: [Vec3, Vec3, Vec3][] = [
      // normal, u axis, v axis (u × v = normal)
      [[1, 0, 0], [0, 0, -1], [0, 1, 0]],
      [[-1, 0, 0], [0, 0, 1], [0, 1, 0]],
      [[0, 1, 0], [1, 0, 0], [0, 0, -1]],
      [[0, -1, 0], [1, 0, 0], [0, 0, 1]],
      [[0, 0, 1], [1, 0, 0], [0, 1, 0]],
      [[0, 0, -1], [-1, 0, 0], [0, 1, 0]],
    ];
    for (const [n, u, v] of faces) {
      const corner = (su: number, sv: number): Vec3 => [
        (n[0] + su * u[0] + sv * v[0]) * hx,
        (n[1] + su * u[1] + sv * v[1]) * hy,
        (n[2] + su * u[2] + sv * v[2]) * hz,
      ];
      this.quad(corner(-1, -1), corner(1, -1), corner(1, 1), corner(-1, 1), n, n, n, n, part, t);
    }
  }

  /** Frustum from y = 0 (radius r0) to y = h (radius r1): a cylinder when r0 = r1, a cone when r1 = 0. Capped. */
  frustum(r0: number, r1: number, h: number, part: number, t: Transform = {}, segments = 36): void {
    const slope = (r0 - r1) / h;
    for (let i = 0; i < segments; i++) {
      const a0 = (2 * Math.PI * i) / segments, a1 = (2 * Math.PI * (i + 1)) / segments;
      const c0 = Math.cos(a0), s0 = Math.sin(a0), c1 = Math.cos(a1), s1 = Math.sin(a1);
      const n0 = normalize([c0, slope, s0]), n1 = normalize([c1, slope, s1]);
      this.quad([r0 * c0, 0, r0 * s0], [r0 * c1, 0, r0 * s1], [r1 * c1, h, r1 * s1], [r1 * c0, h, r1 * s0], n0, n1, n1, n0, part, t);
      if (r0 > 0) this.tri([[0, 0, 0], [r0 * c1, 0, r0 * s1], [r0 * c0, 0, r0 * s0]], [[0, -1, 0], [0, -1, 0], [0, -1, 0]], part, t);
      if (r1 > 0) this.tri([[0, h, 0], [r1 * c0, h, r1 * s0], [r1 * c1, h, r1 * s1]], [[0, 1, 0], [0, 1, 0], [0, 1, 0]], part, t);
    }
  }

  /** Unit sphere (scale it for an ellipsoid), centred at the origin before the transform. */
  sphere(part: number, t: Transform = {}, segments = 32, rings = 18): void {
    const pt = (i: number, j: number): Vec3 => {
      const th = (Math.PI * j) / rings, ph = (2 * Math.PI * i) / segments;
      return [Math.sin(th) * Math.cos(ph), Math.cos(th), Math.sin(th) * Math.sin(ph)];
    };
    for (let j = 0; j < rings; j++)
      for (let i = 0; i < segments; i++) {
        const a = pt(i, j), b = pt(i + 1, j), c = pt(i + 1, j + 1), d = pt(i, j + 1);
        this.quad(a, b, c, d, a, b, c, d, part, t);
      }
  }

  /** Torus around the y axis: ring radius `major`, tube radius `minor`. */
  torus(major: number, minor: number, part: number, t: Transform = {}, segments = 36, sides = 14): void {
    const pt = (i: number, j: number): [Vec3, Vec3] => {
      const u = (2 * Math.PI * i) / segments, v = (2 * Math.PI * j) / sides;
      const n: Vec3 = [Math.cos(v) * Math.cos(u), Math.sin(v), Math.cos(v) * Math.sin(u)];
      const ring = major + minor * Math.cos(v);
      return [[ring * Math.cos(u), minor * Math.sin(v), ring * Math.sin(u)], n];
    };
    for (let i = 0; i < segments; i++)
      for (let j = 0; j < sides; j++) {
        const [a, na] = pt(i, j), [b, nb] = pt(i + 1, j), [c, nc] = pt(i + 1, j + 1), [d, nd] = pt(i, j + 1);
        this.quad(a, b, c, d, na, nb, nc, nd, part, t);
      }
  }

  /** Axis-aligned bounds of all vertices. */
  bounds(): { min: Vec3; max: Vec3 } {
    const min: Vec3 = [Infinity, Infinity, Infinity], max: Vec3 = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < this.pos.length; i += 3)
      for (let k = 0; k < 3; k++) {
        min[k] = Math.min(min[k], this.pos[i + k]);
        max[k] = Math.max(max[k], this.pos[i + k]);
      }
    return { min, max };
  }
}
