/**
 * A 5×7 bitmap font (upper-case Latin letters, digits, a little punctuation) for labelling
 * contact sheets without depending on system fonts. Lower case is drawn as upper case;
 * characters without a glyph (e.g. CJK) are drawn as '?'.
 */
import type { Image } from "../engine/image.js";

const GLYPHS: Readonly<Record<string, readonly number[]>> = parseGlyphs({
  A: "01110 10001 10001 11111 10001 10001 10001",
  B: "11110 10001 10001 11110 10001 10001 11110",
  C: "01110 10001 10000 10000 10000 10001 01110",
  D: "11100 10010 10001 10001 10001 10010 11100",
  E: "11111 10000 10000 11110 10000 10000 11111",
  F: "11111 10000 10000 11110 10000 10000 10000",
  G: "01110 10001 10000 10111 10001 10001 01111",
  H: "10001 10001 10001 11111 10001 10001 10001",
  I: "01110 00100 00100 00100 00100 00100 01110",
  J: "00111 00010 00010 00010 00010 10010 01100",
  K: "10001 10010 10100 11000 10100 10010 10001",
  L: "10000 10000 10000 10000 10000 10000 11111",
  M: "10001 11011 10101 10101 10001 10001 10001",
  N: "10001 10001 11001 10101 10011 10001 10001",
  O: "01110 10001 10001 10001 10001 10001 01110",
  P: "11110 10001 10001 11110 10000 10000 10000",
  Q: "01110 10001 10001 10001 10101 10010 01101",
  R: "11110 10001 10001 11110 10100 10010 10001",
  S: "01111 10000 10000 01110 00001 00001 11110",
  T: "11111 00100 00100 00100 00100 00100 00100",
  U: "10001 10001 10001 10001 10001 10001 01110",
  V: "10001 10001 10001 10001 10001 01010 00100",
  W: "10001 10001 10001 10101 10101 10101 01010",
  X: "10001 10001 01010 00100 01010 10001 10001",
  Y: "10001 10001 10001 01010 00100 00100 00100",
  Z: "11111 00001 00010 00100 01000 10000 11111",
  "0": "01110 10001 10011 10101 11001 10001 01110",
  "1": "00100 01100 00100 00100 00100 00100 01110",
  "2": "01110 10001 00001 00010 00100 01000 11111",
  "3": "11111 00010 00100 00010 00001 10001 01110",
  "4": "00010 00110 01010 10010 11111 00010 00010",
  "5": "11111 10000 11110 00001 00001 10001 01110",
  "6": "00110 01000 10000 11110 10001 10001 01110",
  "7": "11111 00001 00010 00100 01000 01000 01000",
  "8": "01110 10001 10001 01110 10001 10001 01110",
  "9": "01110 10001 10001 01111 00001 00010 01100",
  " ": "00000 00000 00000 00000 00000 00000 00000",
  "-": "00000 00000 00000 11111 00000 00000 00000",
  ".": "00000 00000 00000 00000 00000 01100 01100",
  ",": "00000 00000 00000 00000 01100 00100 01000",
  ":": "00000 01100 01100 00000 01100 01100 00000",
  "/": "00000 00001 00010 00100 01000 10000 00000",
  _: "00000 00000 00000 00000 00000 00000 11111",
  "(": "00010 00100 01000 01000 01000 00100 00010",
  ")": "01000 00100 00010 00010 00010 00100 01000",
  "=": "00000 00000 11111 00000 11111 00000 00000",
  "?": "01110 10001 00001 00010 00100 00000 00100",
});

function parseGlyphs(src: Record<string, string>): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [ch, rows] of Object.entries(src)) out[ch] = rows.split(" ").map((r) => parseInt(r, 2));
  return out;
}

export const GLYPH_WIDTH = 6;
export const GLYPH_HEIGHT = 8;

/** Draw `text` with its top-left at (x, y) in an RGB image, clipped to the image. */
export function drawText(img: Image, text: string, x: number, y: number, color: [number, number, number]): void {
  let cx = x;
  for (const ch of text.toUpperCase()) {
    const rows = GLYPHS[ch] ?? GLYPHS["?"];
    for (let r = 0; r < 7; r++)
      for (let c = 0; c < 5; c++) {
        if (!((rows[r] >> (4 - c)) & 1)) continue;
        const px = cx + c, py = y + r;
        if (px < 0 || py < 0 || px >= img.width || py >= img.height) continue;
        const o = (py * img.width + px) * img.channels;
        for (let k = 0; k < img.channels; k++) img.data[o + k] = color[img.channels === 1 ? 0 : k];
      }
    cx += GLYPH_WIDTH;
  }
}

/** Greedy word wrap to at most `maxChars` per line (long words are cut). */
export function wrapText(text: string, maxChars: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w.length > 0)) {
    const w = word.length > maxChars ? word.slice(0, maxChars) : word;
    if (line === "") line = w;
    else if (line.length + 1 + w.length <= maxChars) line += " " + w;
    else {
      lines.push(line);
      line = w;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}
