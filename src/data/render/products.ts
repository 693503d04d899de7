/**
 * Product categories assembled from primitives with random proportions. Units: roughly one
 * unit tall, standing on the ground plane y = 0, front facing +z. Each part has a role that
 * decides its colour and material: the body takes the pair's colour and material; accents,
 * metal and interiors are neutral so the named colour stays the object's colour.
 */
import type { Rng } from "../../engine/rng.js";
import { Mesh } from "./mesh.js";

export const CATEGORIES = ["mug", "bottle", "lamp", "chair", "table", "vase"] as const;
export type Category = (typeof CATEGORIES)[number];

export const CATEGORY_TEXT: Readonly<Record<Category, { en: string; zh: string }>> = {
  mug: { en: "mug", zh: "马克杯" },
  bottle: { en: "bottle", zh: "瓶子" },
  lamp: { en: "lamp", zh: "台灯" },
  chair: { en: "chair", zh: "椅子" },
  table: { en: "table", zh: "桌子" },
  vase: { en: "vase", zh: "花瓶" },
};

export type PartRole = "body" | "accent" | "metal" | "interior";

export interface Product {
  mesh: Mesh;
  /** Role of each part id used in the mesh. */
  roles: PartRole[];
}

class Builder {
  readonly mesh = new Mesh();
  readonly roles: PartRole[] = [];
  part(role: PartRole): number {
    this.roles.push(role);
    return this.roles.length - 1;
  }
}

function mug(b: Builder, rng: Rng): void {
  const r = rng.range(0.3, 0.42), h = rng.range(0.7, 1.0);
  const taper = rng.range(0.88, 1.0);
  b.mesh.frustum(r * taper, r, h, b.part("body"));
  b.mesh.frustum(r * 0.86, r * 0.86, 0.006, b.part("interior"), { at: [0, h, 0] });
  const hr = h * rng.range(0.24, 0.3), tube = rng.range(0.05, 0.07);
  b.mesh.torus(hr, tube, b.part("body"), { rotX: Math.PI / 2, at: [r + hr * 0.45, h * 0.52, 0] });
}

function bottle(b: Builder, rng: Rng): void {
  const r = rng.range(0.2, 0.3), h = rng.range(0.65, 1.0);
  const neck = rng.range(0.07, 0.1), shoulder = rng.range(0.14, 0.3), neckH = rng.range(0.12, 0.24);
  const body = b.part("body");
  b.mesh.frustum(r, r, h, body);
  b.mesh.frustum(r, neck, shoulder, body, { at: [0, h, 0] });
  b.mesh.frustum(neck, neck, neckH, body, { at: [0, h + shoulder, 0] });
  b.mesh.frustum(neck * 1.2, neck * 1.2, rng.range(0.07, 0.11), b.part("accent"), { at: [0, h + shoulder + neckH, 0] });
  if (rng.chance(0.5)) b.mesh.frustum(r * 1.015, r * 1.015, h * 0.38, b.part("accent"), { at: [0, h * 0.25, 0] });
}

function lamp(b: Builder, rng: Rng): void {
  const baseR = rng.range(0.24, 0.34), baseH = rng.range(0.05, 0.09);
  const poleH = rng.range(0.7, 1.05), poleR = rng.range(0.025, 0.035);
  const shadeB = rng.range(0.3, 0.42), shadeT = shadeB * rng.range(0.45, 0.7), shadeH = rng.range(0.3, 0.42);
  const metal = b.part("metal");
  b.mesh.frustum(baseR, baseR * 0.92, baseH, metal);
  b.mesh.frustum(poleR, poleR, poleH, metal, { at: [0, baseH, 0] });
  b.mesh.frustum(shadeB, shadeT, shadeH, b.part("body"), { at: [0, baseH + poleH - shadeH * 0.45, 0] });
}

function chair(b: Builder, rng: Rng): void {
  const w = rng.range(0.36, 0.46), d = rng.range(0.34, 0.44), t = rng.range(0.035, 0.05), seatY = rng.range(0.72, 0.88);
  const leg = rng.range(0.03, 0.045), backH = rng.range(0.3, 0.45), tilt = rng.range(-0.16, -0.04);
  const body = b.part("body");
  const legs = b.part(rng.chance(0.5) ? "accent" : "body");
  const round = rng.chance(0.5);
  b.mesh.box([w, t, d], body, { at: [0, seatY, 0] });
  for (const sx of [-1, 1])
    for (const sz of [-1, 1]) {
      const at: [number, number, number] = [sx * (w - leg * 1.5), 0, sz * (d - leg * 1.5)];
      if (round) b.mesh.frustum(leg, leg, seatY - t, legs, { at });
      else b.mesh.box([leg, (seatY - t) / 2, leg], legs, { at: [at[0], (seatY - t) / 2, at[2]] });
    }
  b.mesh.box([w, backH, 0.035], body, { rotX: tilt, at: [0, seatY + t + backH * 0.95, -d + 0.035 - Math.sin(-tilt) * backH] });
}

function table(b: Builder, rng: Rng): void {
  const topY = rng.range(0.6, 0.8), t = rng.range(0.03, 0.05);
  const body = b.part("body");
  const legs = b.part(rng.chance(0.5) ? "accent" : "body");
  if (rng.chance(0.5)) {
    const w = rng.range(0.6, 0.8), d = rng.range(0.35, 0.5), leg = rng.range(0.03, 0.05);
    b.mesh.box([w, t, d], body, { at: [0, topY, 0] });
    for (const sx of [-1, 1]) for (const sz of [-1, 1]) b.mesh.box([leg, (topY - t) / 2, leg], legs, { at: [sx * (w - leg * 2), (topY - t) / 2, sz * (d - leg * 2)] });
  } else {
    const r = rng.range(0.5, 0.65);
    b.mesh.frustum(r, r, 2 * t, body, { at: [0, topY - t, 0] });
    b.mesh.frustum(rng.range(0.05, 0.08), rng.range(0.04, 0.06), topY - t, legs);
    b.mesh.frustum(r * 0.5, r * 0.42, 0.05, legs);
  }
}

function vase(b: Builder, rng: Rng): void {
  const rx = rng.range(0.28, 0.4), ry = rng.range(0.32, 0.5);
  const body = b.part("body");
  b.mesh.frustum(rx * 0.5, rx * 0.55, 0.06, body);
  b.mesh.sphere(body, { scale: [rx, ry, rx], at: [0, ry * 0.95, 0] });
  const n0 = rng.range(0.1, 0.15), n1 = n0 * rng.range(1.0, 1.5), nh = rng.range(0.2, 0.38);
  const top = ry * 1.9 - 0.02;
  b.mesh.frustum(n0, n1, nh, body, { at: [0, top, 0] });
  b.mesh.torus(n1, 0.022, body, { at: [0, top + nh, 0] });
}

const BUILDERS: Readonly<Record<Category, (b: Builder, rng: Rng) => void>> = { mug, bottle, lamp, chair, table, vase };

export function buildProduct(category: Category, rng: Rng): Product {
  const b = new Builder();
  BUILDERS[category](b, rng);
  return { mesh: b.mesh, roles: b.roles };
}
