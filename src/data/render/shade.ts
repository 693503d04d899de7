/**
 * Deferred per-pixel shading of a G-buffer: Lambert diffuse + Phong specular from two
 * directional lights (key and fill), a sky/ground hemisphere ambient and a faint rim, computed
 * in linear light; empty pixels show a plain or vertical-gradient backdrop darkened by the
 * soft ground shadow.
 */
import type { RGB } from "../colors.js";
import type { Camera, GBuffer } from "./raster.js";
import type { Vec3 } from "./mesh.js";

export interface Material {
  /** sRGB albedo in [0, 1]. */
  albedo: RGB;
  /** Specular strength (0 = chalk, ~0.6 = glazed). */
  specular: number;
  /** Phong exponent. */
  shininess: number;
}

export const MATERIALS = {
  glossy: { specular: 0.6, shininess: 60 },
  matte: { specular: 0.05, shininess: 6 },
} as const;
export type MaterialName = keyof typeof MATERIALS;

export interface Lights {
  /** Direction to the key light (world, unit). */
  key: Vec3;
  /** Direction to the fill light (world, unit). */
  fill: Vec3;
}

export interface Backdrop {
  top: RGB;
  bottom: RGB;
}

function toLinear(c: number): number {
  return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
}

function toSrgb(c: number): number {
  const v = Math.min(1, Math.max(0, c));
  return v <= 0.0031308 ? v * 12.92 : 1.055 * Math.pow(v, 1 / 2.4) - 0.055;
}

/** Shade every pixel; returns sRGB floats in [0, 1], 3 per pixel. */
export function shade(g: GBuffer, cam: Camera, materials: readonly Material[], lights: Lights, backdrop: Backdrop, shadow: Float32Array): Float32Array {
  const out = new Float32Array(g.width * g.height * 3);
  const lin = materials.map((m) => [toLinear(m.albedo[0]), toLinear(m.albedo[1]), toLinear(m.albedo[2])]);
  const [kx, ky, kz] = lights.key, [fx, fy, fz] = lights.fill;
  for (let y = 0; y < g.height; y++) {
    const t = y / (g.height - 1);
    const bg = [0, 1, 2].map((k) => backdrop.top[k] + (backdrop.bottom[k] - backdrop.top[k]) * t);
    for (let x = 0; x < g.width; x++) {
      const i = y * g.width + x;
      const part = g.part[i];
      if (part < 0) {
        const dark = shadow[i];
        for (let k = 0; k < 3; k++) out[i * 3 + k] = bg[k] * (1 - dark);
        continue;
      }
      let nx = g.normal[i * 3], ny = g.normal[i * 3 + 1], nz = g.normal[i * 3 + 2];
      const nl = Math.hypot(nx, ny, nz) || 1;
      nx /= nl;
      ny /= nl;
      nz /= nl;
      let vx = cam.eye[0] - g.position[i * 3], vy = cam.eye[1] - g.position[i * 3 + 1], vz = cam.eye[2] - g.position[i * 3 + 2];
      const vl = Math.hypot(vx, vy, vz) || 1;
      vx /= vl;
      vy /= vl;
      vz /= vl;
      let nv = nx * vx + ny * vy + nz * vz;
      if (nv < 0) {
        nx = -nx;
        ny = -ny;
        nz = -nz;
        nv = -nv;
      }
      const m = materials[part];
      const nk = nx * kx + ny * ky + nz * kz, nf = nx * fx + ny * fy + nz * fz;
      const phong = (nlDot: number, lx: number, ly: number, lz: number): number => {
        if (nlDot <= 0) return 0;
        const rx = 2 * nlDot * nx - lx, ry = 2 * nlDot * ny - ly, rz = 2 * nlDot * nz - lz;
        return Math.pow(Math.max(0, rx * vx + ry * vy + rz * vz), m.shininess);
      };
      const diffuse = 0.9 * Math.max(0, nk) + 0.3 * Math.max(0, nf);
      const ambient = 0.1 + 0.1 * (ny * 0.5 + 0.5);
      const spec = m.specular * (1.0 * phong(nk, kx, ky, kz) + 0.35 * phong(nf, fx, fy, fz));
      const rim = 0.06 * Math.pow(1 - nv, 3);
      const a = lin[part];
      for (let k = 0; k < 3; k++) out[i * 3 + k] = toSrgb(a[k] * (ambient + diffuse) + spec + rim);
    }
  }
  return out;
}
