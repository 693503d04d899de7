/**
 * The paired sketch: a line drawing of the G-buffer's object from the same camera. Lines are
 * found where the buffers change abruptly — the silhouette (object vs empty), depth
 * discontinuities (one surface in front of another), part boundaries and creases (normals
 * turning by more than ~40°) — and drawn as round pen stamps, heavier on the outline, displaced
 * by a smooth seeded field so strokes wobble like a hand-held pen, with a faint second pass
 * along the outline. Dark strokes on white.
 */
import type { Rng } from "../../engine/rng.js";
import { ValueNoise } from "./noise.js";
import type { Camera, GBuffer } from "./raster.js";

const NONE = 0, CREASE = 1, OCCLUSION = 2, SILHOUETTE = 3;
const CREASE_COS = Math.cos((40 * Math.PI) / 180);

/** Edge class per pixel (0 none, 1 crease/junction, 2 depth discontinuity, 3 silhouette). */
export function findEdges(g: GBuffer, cam: Camera, objectRadius: number): Uint8Array {
  const { width, height } = g;
  const edges = new Uint8Array(width * height);
  const unit = (i: number): [number, number, number] => {
    const x = g.normal[i * 3], y = g.normal[i * 3 + 1], z = g.normal[i * 3 + 2];
    const l = Math.hypot(x, y, z) || 1;
    return [x / l, y / l, z / l];
  };
  /** Distance of pixel b's surface point from pixel a's tangent plane (world units). */
  const offPlane = (a: number, b: number): number => {
    const n = unit(a);
    const dx = g.position[b * 3] - g.position[a * 3], dy = g.position[b * 3 + 1] - g.position[a * 3 + 1], dz = g.position[b * 3 + 2] - g.position[a * 3 + 2];
    return Math.abs(n[0] * dx + n[1] * dy + n[2] * dz);
  };
  const mark = (i: number, cls: number): void => {
    if (cls > edges[i]) edges[i] = cls;
  };
  const compare = (a: number, b: number): void => {
    const pa = g.part[a], pb = g.part[b];
    if (pa < 0 && pb < 0) return;
    if (pa < 0 || pb < 0) return mark(pa >= 0 ? a : b, SILHOUETTE);
    const za = g.depth[a], zb = g.depth[b];
    const near = za <= zb ? a : b;
    // a depth discontinuity: one pixel's surface point lies far off the other's tangent plane
    // (robust at grazing angles, where depth alone changes fast between neighbours)
    const tol = Math.max(0.03 * objectRadius, (4 * Math.min(za, zb)) / cam.focal);
    if (Math.max(offPlane(a, b), offPlane(b, a)) > tol) return mark(near, OCCLUSION);
    if (pa !== pb) return mark(near, CREASE);
    const na = unit(a), nb = unit(b);
    if (na[0] * nb[0] + na[1] * nb[1] + na[2] * nb[2] < CREASE_COS) mark(near, CREASE);
  };
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (x + 1 < width) compare(i, i + 1);
      if (y + 1 < height) compare(i, i + width);
    }
  return edges;
}

/** Draw the edges as jittered pen strokes; returns grey in [0, 1] (1 = white paper). */
export function drawSketch(g: GBuffer, cam: Camera, objectRadius: number, rng: Rng): Float32Array {
  const { width, height } = g;
  const edges = findEdges(g, cam, objectRadius);
  const ink = new Float32Array(width * height);
  const base = width / 140;
  const radius = [0, 0.75 * base, 1.05 * base, 1.35 * base];
  const passes = [
    { dx: new ValueNoise(rng, 6), dy: new ValueNoise(rng, 6), amp: width / 150, strength: 1, only: NONE },
    { dx: new ValueNoise(rng, 5), dy: new ValueNoise(rng, 5), amp: width / 90, strength: 0.3, only: SILHOUETTE },
  ];
  const pressure = new ValueNoise(rng, 4);
  for (const pass of passes)
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const cls = edges[y * width + x];
        if (cls === NONE || (pass.only !== NONE && cls !== pass.only)) continue;
        const u = x / width, v = y / height;
        const cx = x + 0.5 + pass.amp * pass.dx.at(u, v), cy = y + 0.5 + pass.amp * pass.dy.at(u, v);
        const r = radius[cls] * (pass.only === NONE ? 1 : 0.7);
        const strength = pass.strength * (0.85 + 0.15 * pressure.at(u, v));
        stamp(ink, width, height, cx, cy, r, strength);
      }
  const grey = new Float32Array(width * height);
  for (let i = 0; i < grey.length; i++) grey[i] = 1 - 0.9 * Math.min(1, ink[i]);
  return grey;
}

/** Round anti-aliased pen stamp: ink = max(ink, strength × coverage). */
function stamp(ink: Float32Array, width: number, height: number, cx: number, cy: number, r: number, strength: number): void {
  const x0 = Math.max(0, Math.floor(cx - r - 1)), x1 = Math.min(width - 1, Math.ceil(cx + r + 1));
  const y0 = Math.max(0, Math.floor(cy - r - 1)), y1 = Math.min(height - 1, Math.ceil(cy + r + 1));
  for (let y = y0; y <= y1; y++)
    for (let x = x0; x <= x1; x++) {
      const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
      const cover = Math.min(1, Math.max(0, r + 0.5 - d));
      const v = strength * cover;
      const i = y * width + x;
      if (v > ink[i]) ink[i] = v;
    }
}
