/**
 * Painting styles. Each style turns a scene (background colour, subject colour, accent palette,
 * subject shapes) into a colour function over the unit square; the generator evaluates it on a
 * supersampled grid. Every style keeps the subject in its own colour and the background in its
 * own colour on average (textures mix in at most ~40 %), so that captions stay true and the
 * subject stays readable after downsampling to 16–32 px; the textures are what tell styles apart
 * at full size.
 */
import type { Rng } from "../../engine/rng.js";
import { lightness, mix, type RGB } from "../colors.js";
import { sceneDistance, type ShapeInstance } from "./shapes.js";

export const STYLES = ["geometric", "pointillism", "concentric", "op-art", "mosaic", "waves"] as const;
export type StyleName = (typeof STYLES)[number];

export const STYLE_TEXT: Readonly<Record<StyleName, { en: string; zh: string }>> = {
  geometric: { en: "geometric abstract painting", zh: "几何抽象风格" },
  pointillism: { en: "pointillism painting", zh: "点彩风格" },
  concentric: { en: "concentric ring painting", zh: "同心圆风格" },
  "op-art": { en: "op-art painting", zh: "欧普艺术风格" },
  mosaic: { en: "mosaic", zh: "马赛克风格" },
  waves: { en: "wave pattern painting", zh: "波浪风格" },
};

export interface ArtScene {
  background: RGB;
  subject: RGB;
  palette: readonly RGB[];
  shapes: readonly ShapeInstance[];
}

/** Colour at (u, v) in the unit square, written to `out` as sRGB in [0, 1]. */
export type Painter = (u: number, v: number, out: Float64Array) => void;

const BLACK: RGB = [0, 0, 0];
const WHITE: RGB = [1, 1, 1];

/** Black on light colours, white on dark ones. */
function contrastOf(c: RGB): RGB {
  return lightness(c) > 55 ? BLACK : WHITE;
}

/** Uniform [0, 1) from integer coordinates and a seed (murmur3-style finaliser). */
function hash3(i: number, j: number, k: number, seed: number): number {
  let h = seed ^ Math.imul(i, 0x27d4eb2d) ^ Math.imul(j, 0x165667b1) ^ Math.imul(k + 1, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

function put(out: Float64Array, c: RGB): void {
  out[0] = c[0];
  out[1] = c[1];
  out[2] = c[2];
}

function putMix(out: Float64Array, a: RGB, b: RGB, t: number): void {
  out[0] = a[0] + (b[0] - a[0]) * t;
  out[1] = a[1] + (b[1] - a[1]) * t;
  out[2] = a[2] + (b[2] - a[2]) * t;
}

/**
 * The direction (white or black) that moves a background texture away from the subject's
 * lightness — unless the background is already near that extreme, where the texture would vanish.
 */
function awayFrom(background: RGB, subject: RGB): RGB {
  const away = lightness(subject) < lightness(background) ? WHITE : BLACK;
  return Math.abs(lightness(background) - lightness(away)) < 25 ? (away === WHITE ? BLACK : WHITE) : away;
}

function outlineOf(subject: RGB): RGB {
  return lightness(subject) < 25 ? mix(subject, WHITE, 0.55) : mix(subject, BLACK, 0.6);
}

/** Rotated rectangles and triangles in palette colours, with a few thin straight lines. */
function geometric(scene: ArtScene, rng: Rng): Painter {
  interface Decor { kind: "rect" | "tri"; cx: number; cy: number; a: number; b: number; angle: number; color: RGB }
  const decor: Decor[] = [];
  const nDecor = 4 + rng.int(3);
  for (let i = 0; i < nDecor; i++) {
    decor.push({
      kind: rng.chance(0.5) ? "rect" : "tri",
      cx: rng.range(0.05, 0.95),
      cy: rng.range(0.05, 0.95),
      a: rng.range(0.12, 0.35),
      b: rng.range(0.08, 0.3),
      angle: rng.range(0, Math.PI),
      color: mix(scene.background, rng.pick(scene.palette), rng.range(0.3, 0.45)),
    });
  }
  const lines = Array.from({ length: 2 + rng.int(2) }, () => ({ vertical: rng.chance(0.5), at: rng.range(0.08, 0.92) }));
  const lineColor = mix(scene.background, contrastOf(scene.background), 0.45);
  const outline = outlineOf(scene.subject);
  const inside = (d: Decor, u: number, v: number): boolean => {
    const c = Math.cos(d.angle), s = Math.sin(d.angle);
    const x = c * (u - d.cx) + s * (v - d.cy), y = -s * (u - d.cx) + c * (v - d.cy);
    if (d.kind === "rect") return Math.abs(x) < d.a && Math.abs(y) < d.b;
    // right triangle with legs a and b
    return x > -d.a && y > -d.b && x / d.a + y / d.b < 0;
  };
  return (u, v, out) => {
    const d = sceneDistance(scene.shapes, u, v);
    if (d < -0.009) return put(out, scene.subject);
    if (d < 0.0) return put(out, outline);
    let c = scene.background;
    for (const dec of decor) if (inside(dec, u, v)) c = dec.color;
    for (const l of lines) if (Math.abs((l.vertical ? u : v) - l.at) < 0.006) c = lineColor;
    put(out, c);
  };
}

/** Dots on a jittered grid, each dot taking the colour of the region under its centre. */
function pointillism(scene: ArtScene, rng: Rng): Painter {
  const seed = rng.nextU32();
  const cell = 0.026;
  const cells = Math.ceil(1 / cell) + 2;
  const paper: RGB = [0.95, 0.92, 0.85];
  // precompute one dot per cell: centre, radius, colour
  const dx = new Float64Array(cells * cells), dy = new Float64Array(cells * cells), dr = new Float64Array(cells * cells);
  const dcol: RGB[] = [];
  for (let j = 0; j < cells; j++)
    for (let i = 0; i < cells; i++) {
      const k = j * cells + i;
      const cx = (i - 1 + 0.5 + (hash3(i, j, 0, seed) - 0.5) * 0.8) * cell;
      const cy = (j - 1 + 0.5 + (hash3(i, j, 1, seed) - 0.5) * 0.8) * cell;
      dx[k] = cx;
      dy[k] = cy;
      dr[k] = cell * (0.55 + 0.25 * hash3(i, j, 2, seed));
      const inSubject = sceneDistance(scene.shapes, cx, cy) < 0;
      let c: RGB = inSubject ? scene.subject : scene.background;
      if (!inSubject && hash3(i, j, 3, seed) < 0.25) c = mix(c, scene.palette[Math.floor(hash3(i, j, 4, seed) * scene.palette.length)], 0.55);
      if (inSubject && hash3(i, j, 3, seed) < 0.15) c = mix(c, WHITE, 0.3);
      const jit = (n: number): number => (hash3(i, j, n, seed) - 0.5) * 0.14;
      dcol.push([c[0] + jit(5), c[1] + jit(6), c[2] + jit(7)]);
    }
  return (u, v, out) => {
    const ci = Math.floor(u / cell) + 1, cj = Math.floor(v / cell) + 1;
    let best = -1, bestPriority = -1;
    for (let j = cj - 1; j <= cj + 1; j++)
      for (let i = ci - 1; i <= ci + 1; i++) {
        if (i < 0 || j < 0 || i >= cells || j >= cells) continue;
        const k = j * cells + i;
        const ddx = u - dx[k], ddy = v - dy[k];
        if (ddx * ddx + ddy * ddy < dr[k] * dr[k]) {
          const p = hash3(i, j, 8, seed);
          if (p > bestPriority) {
            bestPriority = p;
            best = k;
          }
        }
      }
    if (best >= 0) return put(out, dcol[best]);
    const inSubject = sceneDistance(scene.shapes, u, v) < 0;
    putMix(out, inSubject ? scene.subject : scene.background, paper, 0.25);
  };
}

/** Rings around a point in the background; rings following the outline inside each subject. */
function concentric(scene: ArtScene, rng: Rng): Painter {
  const bx = rng.range(0.1, 0.9), by = rng.range(0.1, 0.9);
  const ring = rng.range(0.038, 0.05);
  const inner = rng.range(0.024, 0.032);
  const ringColors = scene.palette.map((p) => mix(scene.background, p, 0.38));
  const subjectAlt = mix(scene.subject, contrastOf(scene.subject), 0.38);
  const outline = outlineOf(scene.subject);
  return (u, v, out) => {
    const d = sceneDistance(scene.shapes, u, v);
    if (d < -0.006) {
      const k = Math.floor(-d / inner);
      return put(out, (k & 1) === 0 ? scene.subject : subjectAlt);
    }
    if (d < 0) return put(out, outline);
    const k = Math.floor(Math.hypot(u - bx, v - by) / ring);
    put(out, k % 2 === 0 ? scene.background : ringColors[(k >> 1) % ringColors.length]);
  };
}

/** Warped parallel stripes; the subjects carry stripes at right angles to the background's. */
function opArt(scene: ArtScene, rng: Rng): Painter {
  const angle = rng.range(0, Math.PI);
  const ca = Math.cos(angle), sa = Math.sin(angle);
  const width = rng.range(0.026, 0.034);
  const freq = rng.range(1.5, 3), amp = rng.range(0.015, 0.03), phase = rng.range(0, 1);
  const bgAlt = mix(scene.background, awayFrom(scene.background, scene.subject), 0.45);
  const subjectAlt = mix(scene.subject, contrastOf(scene.subject), 0.35);
  const outline = outlineOf(scene.subject);
  return (u, v, out) => {
    const along = ca * u + sa * v, across = -sa * u + ca * v;
    const d = sceneDistance(scene.shapes, u, v);
    if (d < -0.005) {
      const t = across + amp * Math.sin(2 * Math.PI * (along * freq + phase));
      return put(out, (Math.floor(t / (width * 0.75)) & 1) === 0 ? scene.subject : subjectAlt);
    }
    if (d < 0) return put(out, outline);
    // stripes bulge around the subjects
    const bulge = d < 0.15 ? 0.025 * (1 - d / 0.15) : 0;
    const t = along + amp * Math.sin(2 * Math.PI * (across * freq + phase)) + bulge;
    put(out, (Math.floor(t / width) & 1) === 0 ? scene.background : bgAlt);
  };
}

/** Voronoi tiles with grout lines; tiles split along the subject outline. */
function mosaic(scene: ArtScene, rng: Rng): Painter {
  const seed = rng.nextU32();
  const cell = rng.range(0.045, 0.055);
  const grout = mix(scene.background, awayFrom(scene.background, scene.subject), 0.4);
  return (u, v, out) => {
    const ci = Math.floor(u / cell), cj = Math.floor(v / cell);
    let d1 = Infinity, d2 = Infinity, bi = 0, bj = 0;
    for (let j = cj - 1; j <= cj + 1; j++)
      for (let i = ci - 1; i <= ci + 1; i++) {
        const px = (i + 0.1 + 0.8 * hash3(i, j, 0, seed)) * cell, py = (j + 0.1 + 0.8 * hash3(i, j, 1, seed)) * cell;
        const dd = Math.hypot(u - px, v - py);
        if (dd < d1) {
          d2 = d1;
          d1 = dd;
          bi = i;
          bj = j;
        } else if (dd < d2) d2 = dd;
      }
    const d = sceneDistance(scene.shapes, u, v);
    if (d2 - d1 < 0.007 || Math.abs(d) < 0.003) return put(out, grout);
    const inSubject = d < 0;
    let c: RGB = inSubject ? scene.subject : scene.background;
    if (!inSubject && hash3(bi, bj, 2, seed) < 0.2) c = mix(c, scene.palette[Math.floor(hash3(bi, bj, 3, seed) * scene.palette.length)], 0.4);
    const shade = 1 + (hash3(bi, bj, inSubject ? 4 : 5, seed) - 0.5) * 0.22;
    out[0] = c[0] * shade + (hash3(bi, bj, 6, seed) - 0.5) * 0.06;
    out[1] = c[1] * shade + (hash3(bi, bj, 7, seed) - 0.5) * 0.06;
    out[2] = c[2] * shade + (hash3(bi, bj, 8, seed) - 0.5) * 0.06;
  };
}

/** Wavy horizontal bands in shades of the background; fine wavy lines across the subjects. */
function waves(scene: ArtScene, rng: Rng): Painter {
  const band = rng.range(0.06, 0.08);
  const f1 = rng.range(1, 2.5), f2 = rng.range(3, 5), a1 = rng.range(0.03, 0.06), a2 = rng.range(0.008, 0.016);
  const p1 = rng.range(0, 1), p2 = rng.range(0, 1);
  const light = mix(scene.background, WHITE, 0.12), dark = mix(scene.background, BLACK, 0.18);
  const accents = scene.palette.map((p) => mix(scene.background, p, 0.4));
  const lineColor = mix(scene.subject, contrastOf(scene.subject), 0.35);
  const outline = outlineOf(scene.subject);
  return (u, v, out) => {
    const d = sceneDistance(scene.shapes, u, v);
    if (d < -0.007) {
      const t = v + 0.012 * Math.sin(2 * Math.PI * (u * 7 + p2));
      const f = t / 0.03 - Math.floor(t / 0.03);
      return put(out, f < 0.28 ? lineColor : scene.subject);
    }
    if (d < 0) return put(out, outline);
    const t = v + a1 * Math.sin(2 * Math.PI * (u * f1 + p1)) + a2 * Math.sin(2 * Math.PI * (u * f2 + p2));
    const k = Math.floor(t / band) + 100;
    const m = k % 4;
    put(out, m === 0 ? accents[(k >> 2) % accents.length] : m === 1 ? light : m === 2 ? scene.background : dark);
  };
}

const PAINTERS: Readonly<Record<StyleName, (scene: ArtScene, rng: Rng) => Painter>> = {
  geometric,
  pointillism,
  concentric,
  "op-art": opArt,
  mosaic,
  waves,
};

export function makePainter(style: StyleName, scene: ArtScene, rng: Rng): Painter {
  return PAINTERS[style](scene, rng);
}
