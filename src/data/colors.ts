/**
 * Named colours shared by the generators: an English name (used in captions and attributes),
 * a Chinese name (captions), and an sRGB value in [0, 1].
 */

export type RGB = [number, number, number];

export interface NamedColor {
  name: string;
  zh: string;
  rgb: RGB;
}

function hex(h: string): RGB {
  const v = parseInt(h.slice(1), 16);
  return [((v >> 16) & 255) / 255, ((v >> 8) & 255) / 255, (v & 255) / 255];
}

function color(name: string, zh: string, h: string): NamedColor {
  return { name, zh, rgb: hex(h) };
}

/** Colours a subject (art shape, product) may have. */
export const SUBJECT_COLORS: readonly NamedColor[] = [
  color("red", "红色", "#d7261e"),
  color("orange", "橙色", "#f28c1c"),
  color("yellow", "黄色", "#f5d21f"),
  color("green", "绿色", "#2f9e44"),
  color("blue", "蓝色", "#1f5fd6"),
  color("purple", "紫色", "#7b3fb8"),
  color("pink", "粉色", "#f06aa8"),
  color("white", "白色", "#f4f4f0"),
  color("black", "黑色", "#1a1a1a"),
];

/** Background colours of the art generator. */
export const BACKGROUND_COLORS: readonly NamedColor[] = [
  color("dark blue", "深蓝色", "#14285a"),
  color("black", "黑色", "#141414"),
  color("white", "白色", "#f5f5f2"),
  color("cream", "米色", "#efe3c2"),
  color("teal", "青色", "#1c8a86"),
  color("dark green", "深绿色", "#1d4d2b"),
  color("grey", "灰色", "#8c8c8c"),
  color("light blue", "浅蓝色", "#a9cdf0"),
];

/** Colours of rendered products (one body colour per object). */
export const PRODUCT_COLORS: readonly NamedColor[] = [
  color("red", "红色", "#c8231b"),
  color("orange", "橙色", "#e8801a"),
  color("yellow", "黄色", "#e8c22a"),
  color("green", "绿色", "#2e8b40"),
  color("blue", "蓝色", "#2358c0"),
  color("purple", "紫色", "#6f3aa6"),
  color("white", "白色", "#ecebe6"),
  color("black", "黑色", "#222222"),
  color("grey", "灰色", "#8a8d91"),
  color("teal", "青色", "#1f8a8a"),
];

/** Named palettes: accent colours used for background decoration (never for the subject). */
export const PALETTES: Readonly<Record<string, readonly RGB[]>> = {
  warm: ["#e8553a", "#f2a541", "#f7d35c", "#b8322a"].map(hex),
  cool: ["#2a6fdb", "#3cb4c4", "#5ac18e", "#6a5acd"].map(hex),
  pastel: ["#f6c1d0", "#bde0fe", "#caffbf", "#fdffb6"].map(hex),
  earth: ["#8d6e63", "#c2a878", "#6b8e23", "#a0522d"].map(hex),
  neon: ["#ff2fa0", "#20e8ff", "#aaff00", "#ffea00"].map(hex),
  monochrome: ["#2a2a2a", "#5a5a5a", "#9a9a9a", "#d8d8d8"].map(hex),
};

export const PALETTE_NAMES: readonly string[] = Object.keys(PALETTES);

/** CIE L* (0–100) of an sRGB colour. */
export function lightness(c: RGB): number {
  const lin = (v: number): number => (v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
  const y = 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  return y > 216 / 24389 ? 116 * Math.cbrt(y) - 16 : (24389 / 27) * y;
}

/** Do two colours stand apart clearly enough to read a shape at 16 px (lightness and hue)? */
export function contrasting(a: RGB, b: RGB): boolean {
  const dl = Math.abs(lightness(a) - lightness(b));
  const d = Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
  return dl >= 18 && d >= 0.45;
}

export function mix(a: RGB, b: RGB, t: number): RGB {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}
