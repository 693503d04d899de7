/**
 * The sketch→render generator: pair i is a product (category, proportions, colour, material)
 * seen from a random orbit camera, rendered with shading and a soft ground shadow, plus a pen
 * sketch of the same object from the same camera. Both are drawn at a supersampled size and
 * area-downsampled. Pair i depends only on (seed, i); categories are balanced in blocks.
 */
import { Rng } from "../../engine/rng.js";
import { createImage, encodePng, resizeArea, type Image } from "../../engine/image.js";
import { lightness, mix, PRODUCT_COLORS, type NamedColor, type RGB } from "../colors.js";
import { article } from "../captions.js";
import type { GeneratedPair } from "../dataset.js";
import { CATEGORIES, CATEGORY_TEXT, buildProduct, type Category, type PartRole } from "./products.js";
import { blur, cameraToWorld, groundShadow, orbitCamera, rasterize } from "./raster.js";
import { MATERIALS, shade, type Backdrop, type Material, type MaterialName } from "./shade.js";
import { drawSketch } from "./sketch.js";
import type { Vec3 } from "./mesh.js";

export const RENDER_GENERATOR = { name: "diffx-sketch2render", version: "1" } as const;

export interface RenderAttributes {
  category: Category;
  color: string;
  material: MaterialName;
  /** Camera yaw in degrees (0 = front, positive = from the object's right). */
  yaw: number;
  /** Camera pitch in degrees above the horizon. */
  pitch: number;
  background: "plain" | "gradient";
}

const MATERIAL_TEXT: Readonly<Record<MaterialName, { en: string; zh: string }>> = {
  glossy: { en: "glossy", zh: "亮面" },
  matte: { en: "matte", zh: "哑光" },
};

function productColor(name: string): NamedColor {
  const c = PRODUCT_COLORS.find((x) => x.name === name);
  if (!c) throw new Error(`unknown product colour '${name}'`);
  return c;
}

/** "a glossy red mug" / "红色亮面马克杯". */
export function renderCaption(a: RenderAttributes): { en: string; zh: string } {
  const color = productColor(a.color), mat = MATERIAL_TEXT[a.material], cat = CATEGORY_TEXT[a.category];
  return { en: `${article(mat.en)} ${mat.en} ${color.name} ${cat.en}`, zh: `${color.zh}${mat.zh}${cat.zh}` };
}

export function categoryOf(seed: number, index: number): Category {
  const block = Math.floor(index / CATEGORIES.length);
  const order = new Rng(seed, "render-category-block", block).shuffle([...CATEGORIES]);
  return order[index % CATEGORIES.length];
}

const ACCENTS: readonly RGB[] = [
  [0.9, 0.89, 0.86],
  [0.17, 0.17, 0.17],
  [0.6, 0.42, 0.25],
];
const METAL: RGB = [0.72, 0.74, 0.76];
const LIGHT_BACKDROPS: readonly RGB[] = [
  [0.93, 0.94, 0.95],
  [0.95, 0.93, 0.89],
  [0.87, 0.9, 0.93],
  [0.9, 0.9, 0.9],
];
const DARK_BACKDROPS: readonly RGB[] = [
  [0.6, 0.64, 0.68],
  [0.65, 0.62, 0.57],
  [0.56, 0.6, 0.65],
];

function toImage(values: Float32Array, size: number, channels: 1 | 3): Image {
  const img = createImage(size, size, channels);
  for (let i = 0; i < img.data.length; i++) img.data[i] = Math.round(Math.min(1, Math.max(0, values[i])) * 255);
  return img;
}

/** Render pair `index` at `size` px: the shaded render (RGB) and the sketch (grey). */
export function renderPair(seed: number, index: number, size: number): { attributes: RenderAttributes; render: Image; sketch: Image } {
  const rng = new Rng(seed, "render", index);
  const category = categoryOf(seed, index);
  const color = rng.pick(PRODUCT_COLORS);
  const material: MaterialName = rng.chance(0.5) ? "glossy" : "matte";
  const yaw = Math.round(rng.range(-70, 70));
  const pitch = Math.round(rng.range(8, 35));
  const background: RenderAttributes["background"] = rng.chance(0.5) ? "plain" : "gradient";
  const product = buildProduct(category, rng);

  const accentChoices = ACCENTS.filter((a) => Math.abs(lightness(a) - lightness(color.rgb)) > 25);
  const accent = rng.pick(accentChoices.length > 0 ? accentChoices : ACCENTS);
  const materialOf = (role: PartRole): Material => {
    switch (role) {
      case "body":
        return { albedo: color.rgb, ...MATERIALS[material] };
      case "accent":
        return { albedo: accent, ...MATERIALS.matte };
      case "metal":
        return { albedo: METAL, specular: 0.7, shininess: 80 };
      case "interior":
        return { albedo: mix(color.rgb, [0, 0, 0], 0.55), ...MATERIALS.matte };
    }
  };
  const materials = product.roles.map(materialOf);

  const tone = rng.pick(lightness(color.rgb) > 80 ? DARK_BACKDROPS : LIGHT_BACKDROPS);
  const backdrop: Backdrop = background === "plain" ? { top: tone, bottom: tone } : { top: mix(tone, [1, 1, 1], 0.4), bottom: mix(tone, [0, 0, 0], 0.18) };

  // camera framing the object's bounding sphere
  const { min, max } = product.mesh.bounds();
  const centre: Vec3 = [(min[0] + max[0]) / 2, (min[1] + max[1]) / 2, (min[2] + max[2]) / 2];
  let radius = 0;
  const P = product.mesh.pos;
  for (let i = 0; i < P.length; i += 3) radius = Math.max(radius, Math.hypot(P[i] - centre[0], P[i + 1] - centre[1], P[i + 2] - centre[2]));
  const fov = 32;
  const ss = Math.max(2, Math.ceil(256 / size));
  const internal = size * ss;
  const cam = orbitCamera(centre, yaw, pitch, (radius / Math.sin((fov * Math.PI) / 360)) * 1.04, fov, internal);
  const key = cameraToWorld(cam, [-0.55, 0.8, -0.45]);
  const fill = cameraToWorld(cam, [0.75, 0.2, -0.6]);

  const g = rasterize(product.mesh, cam);
  const cast = groundShadow(product.mesh, cam, key);
  blur(cast, internal, internal, internal * 0.025);
  const contact = groundShadow(product.mesh, cam, [0, 1, 0]);
  blur(contact, internal, internal, internal * 0.012);
  const shadow = new Float32Array(cast.length);
  for (let i = 0; i < shadow.length; i++) shadow[i] = Math.min(0.65, 0.4 * cast[i] + 0.25 * contact[i]);

  const rgb = shade(g, cam, materials, { key, fill }, backdrop, shadow);
  const grey = drawSketch(g, cam, radius, new Rng(seed, "render-pen", index));
  return {
    attributes: { category, color: color.name, material, yaw, pitch, background },
    render: resizeArea(toImage(rgb, internal, 3), size),
    sketch: resizeArea(toImage(grey, internal, 1), size),
  };
}

export function generateRenderPair(seed: number, index: number, size: number): GeneratedPair {
  const { attributes, render, sketch } = renderPair(seed, index, size);
  const id = String(index).padStart(4, "0");
  const caption = renderCaption(attributes);
  return {
    record: {
      id,
      image: `images/${id}.png`,
      sketch: `sketches/${id}.png`,
      caption: caption.en,
      caption_zh: caption.zh,
      attributes: { ...attributes },
      group: id,
    },
    files: [
      { path: `images/${id}.png`, bytes: encodePng(render) },
      { path: `sketches/${id}.png`, bytes: encodePng(sketch) },
    ],
  };
}
