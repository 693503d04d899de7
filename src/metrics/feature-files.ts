/**
 * Feature matrices on disk: NumPy `.npy` (float32 or float64, 2-D, C order) or `.csv` (one row
 * per sample, comma-separated, no header). Both become FeatureRows (float64).
 *
 * .npy layout (numpy.lib.format, versions 1.0–3.0): the magic "\x93NUMPY", a major and minor
 * version byte, the header length (uint16 LE for v1, uint32 LE for v2/v3), then an ASCII
 * (v3: UTF-8) Python dict literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (12, 64), }
 * padded with spaces and a newline, then the raw array data.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { UsageError } from "../errors.js";
import { checkFeatureRows, type FeatureRows } from "./feature-rows.js";

export const FEATURE_FILE_EXTENSIONS = [".npy", ".csv"] as const;

export function isFeatureFile(file: string): boolean {
  const ext = path.extname(file).toLowerCase();
  return (FEATURE_FILE_EXTENSIONS as readonly string[]).includes(ext);
}

/** Read and check a feature file (≥ 2 rows, finite values); errors name the file and row. */
export function readFeatureFile(file: string): Float64Array[] {
  const ext = path.extname(file).toLowerCase();
  if (ext !== ".npy" && ext !== ".csv") throw new UsageError(`${file}: not a feature file (expected .npy or .csv)`);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    throw new UsageError(`${file}: file not found or not readable`);
  }
  const rows = ext === ".npy" ? parseNpy(bytes, file) : parseFeatureCsv(bytes.toString("utf8"), file);
  checkFeatureRows(rows, file);
  return rows;
}

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Parse a 2-D float32/float64 C-order .npy file. `name` is used in error messages. */
export function parseNpy(bytes: Uint8Array, name: string): Float64Array[] {
  const bad = (why: string): UsageError => new UsageError(`${name}: bad .npy file: ${why}`);
  if (bytes.length < 10 || NPY_MAGIC.some((b, i) => bytes[i] !== b)) throw bad("missing the \\x93NUMPY magic");
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number, headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw bad("truncated header");
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else throw bad(`unsupported format version ${major}.${bytes[7]}`);
  if (headerStart + headerLen > bytes.length) throw bad("truncated header");
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(headerStart, headerStart + headerLen));

  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw bad(`header is not a numpy header dict: ${header.trim()}`);
  const dtype = /^([<>|=])f([48])$/.exec(descr);
  if (!dtype) throw bad(`dtype '${descr}' is not supported (need float32 or float64)`);
  const littleEndian = dtype[1] !== ">";
  const itemSize = Number(dtype[2]);
  if (fortran === "True") throw bad("array is in Fortran order; save it in C order (np.ascontiguousarray)");
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (shape.length !== 2 || !shape.every((s) => /^\d+$/.test(s))) throw bad(`shape (${shapeText.trim()}) is not 2-D (need n samples × d features)`);
  const [n, d] = shape.map(Number);
  const dataStart = headerStart + headerLen;
  const expected = n * d * itemSize;
  if (bytes.length - dataStart !== expected) throw bad(`shape (${n}, ${d}) needs ${expected} data bytes but the file has ${bytes.length - dataStart}`);

  const rows: Float64Array[] = [];
  for (let r = 0; r < n; r++) {
    const row = new Float64Array(d);
    const base = dataStart + r * d * itemSize;
    for (let c = 0; c < d; c++) {
      const at = base + c * itemSize;
      row[c] = itemSize === 4 ? view.getFloat32(at, littleEndian) : view.getFloat64(at, littleEndian);
    }
    rows.push(row);
  }
  return rows;
}

const NON_FINITE = /^[+-]?(nan|inf|infinity)$/i;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parse comma-separated rows of numbers (no header; blank lines at the end are ignored). */
export function parseFeatureCsv(text: string, name: string): Float64Array[] {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1].trim() === "") lines.pop();
  const rows: Float64Array[] = [];
  lines.forEach((line, r) => {
    if (line.trim() === "") throw new UsageError(`${name}: row ${r + 1} is empty (one sample per line, no blank lines)`);
    const fields = line.split(",");
    if (rows.length > 0 && fields.length !== rows[0].length) throw new UsageError(`${name}: row ${r + 1} has ${fields.length} values, row 1 has ${rows[0].length}`);
    const row = new Float64Array(fields.length);
    fields.forEach((raw, c) => {
      const field = raw.trim();
      const where = `${name}: row ${r + 1}, column ${c + 1}`;
      if (NON_FINITE.test(field)) throw new UsageError(`${where}: value is ${field} (features must be finite numbers)`);
      const v = DECIMAL.test(field) ? Number(field) : Number.NaN;
      if (!Number.isFinite(v)) {
        const hint = r === 0 ? " (feature CSVs have no header row)" : "";
        throw new UsageError(`${where}: '${field}' is not a finite number${hint}`);
      }
      row[c] = v;
    });
    rows.push(row);
  });
  return rows;
}
