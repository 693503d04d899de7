/**
 * Comparing a recorded output file with its re-computed twin, as `diffx verify` does.
 *
 * Exact comparison is sha256 equality; when the bytes differ, the file is opened to say where
 * (which metrics step and field, which JSON key). JSON files are compared value by value without
 * their measurements (measured.ts: sampling times), so one that differs only there matches. Numeric comparison (non-deterministic
 * backends) accepts numbers within a relative tolerance `rtol`:
 * - scalars (metrics values, JSON numbers, numbers in SVG and CSV text): |a − b| ≤ rtol · max(|a|, |b|);
 * - checkpoint tensors (`*.bin` + `*.json` index): per named tensor,
 *   max |a − b| ≤ rtol · max(max |a| over the tensor, RMS of the whole file) — relative to the
 *   tensor's scale, floored at the file's scale so tensors that are numerically zero (a
 *   gradient that vanishes, like an attention key bias) do not demand precision below noise;
 * - PNG images: every pixel within max(1, ⌈255 · rtol⌉) levels.
 * Rows beyond `ROWS_PER_FILE` per file are counted, not listed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { decodePng } from "../engine/image.js";
import { sha256File } from "../engine/hash.js";
import { withoutMeasurements } from "./measured.js";
import { shortHash, type CheckName, type Comparison, type Mismatch } from "./verify-types.js";

export const ROWS_PER_FILE = 20;

/** Mismatch rows of one check, at most ROWS_PER_FILE listed per file. */
export class MismatchList {
  readonly rows: Mismatch[] = [];
  private readonly perFile = new Map<string, number>();
  private total = 0;

  constructor(readonly check: CheckName) {}

  add(file: string, where: string, expected: string, got: string): void {
    this.total++;
    const n = (this.perFile.get(file) ?? 0) + 1;
    this.perFile.set(file, n);
    if (n <= ROWS_PER_FILE) this.rows.push({ check: this.check, file, where, expected, got });
  }

  /** Number of mismatches found (listed or not). */
  get count(): number {
    return this.total;
  }

  /** The listed rows plus one "… and N more" row per file that had too many. */
  finish(): Mismatch[] {
    const out = [...this.rows];
    for (const [file, n] of this.perFile) {
      if (n > ROWS_PER_FILE) out.push({ check: this.check, file, where: `… and ${n - ROWS_PER_FILE} more`, expected: "", got: "" });
    }
    return out;
  }
}

/** A number as JavaScript prints it (shortest round-trip form; no locale). */
export function num(x: unknown): string {
  return typeof x === "number" ? String(x) : JSON.stringify(x) ?? "undefined";
}

/** |a − b| ≤ rtol · max(|a|, |b|); NaN equals NaN, infinities must be equal. */
export function close(a: number, b: number, rtol: number): boolean {
  if (Object.is(a, b) || a === b) return true;
  if (Number.isNaN(a) || Number.isNaN(b) || !Number.isFinite(a) || !Number.isFinite(b)) return false;
  return Math.abs(a - b) <= rtol * Math.max(Math.abs(a), Math.abs(b));
}

function sameValue(a: unknown, b: unknown, rtol: number): boolean {
  if (typeof a === "number" && typeof b === "number") return close(a, b, rtol);
  return JSON.stringify(a) === JSON.stringify(b);
}

export interface MetricsCompareOptions {
  file: string;
  /** Fields that depend on wall-clock time (left out). */
  ignore: readonly string[];
  /** Compare only records with step ≤ this (verify --steps K). */
  upToStep?: number;
  /** 0 for exact. */
  rtol: number;
}

interface MetricsLine {
  step: number;
  record: Record<string, unknown>;
}

function parseMetrics(text: string, who: "run" | "re-run", file: string, list: MismatchList): Map<number, MetricsLine> {
  const out = new Map<number, MetricsLine>();
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let rec: unknown = null;
    try {
      rec = JSON.parse(line);
    } catch {
      /* reported below */
    }
    if (typeof rec !== "object" || rec === null || typeof (rec as { step?: unknown }).step !== "number") {
      list.add(file, `line ${i + 1} (${who})`, "a JSON record with a step", JSON.stringify(line.slice(0, 40)));
      return;
    }
    const step = (rec as { step: number }).step;
    out.set(step, { step, record: rec as Record<string, unknown> });
  });
  return out;
}

/**
 * Compare two metrics.jsonl texts record by record (matched by step), every field but the
 * timing ones. Returns the number of values compared.
 */
export function compareMetrics(expected: string, got: string, o: MetricsCompareOptions, list: MismatchList): number {
  const a = parseMetrics(expected, "run", o.file, list);
  const b = parseMetrics(got, "re-run", o.file, list);
  const inRange = (s: number): boolean => o.upToStep === undefined || s <= o.upToStep;
  const steps = [...new Set([...a.keys(), ...b.keys()])].filter(inRange).sort((x, y) => x - y);
  let compared = 0;
  for (const s of steps) {
    const ra = a.get(s);
    const rb = b.get(s);
    if (!ra || !rb) {
      list.add(o.file, `step ${s}`, ra ? "a record" : "(no record)", rb ? "a record" : "(no record)");
      continue;
    }
    const keys = [...new Set([...Object.keys(ra.record), ...Object.keys(rb.record)])].filter((k) => !o.ignore.includes(k)).sort();
    for (const k of keys) {
      compared++;
      const va = ra.record[k];
      const vb = rb.record[k];
      if (!sameValue(va, vb, o.rtol)) list.add(o.file, `step ${s}: ${k}`, k in ra.record ? num(va) : "(absent)", k in rb.record ? num(vb) : "(absent)");
    }
  }
  return compared;
}

/** Deep comparison of two JSON values; numbers within rtol (0 = exact). Returns values compared. */
export function compareJsonValues(a: unknown, b: unknown, rtol: number, file: string, list: MismatchList, at = ""): number {
  const here = at || "(top level)";
  if (typeof a === "number" && typeof b === "number") {
    if (!close(a, b, rtol)) list.add(file, here, num(a), num(b));
    return 1;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) {
      list.add(file, here, `${a.length} items`, `${b.length} items`);
      return 1;
    }
    let n = 0;
    a.forEach((v, i) => {
      n += compareJsonValues(v, b[i], rtol, file, list, `${at}[${i}]`);
    });
    return n;
  }
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    let n = 0;
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const p = at ? `${at}.${k}` : k;
      if (!(k in a) || !(k in b)) {
        list.add(file, p, k in a ? num(a[k]) : "(absent)", k in b ? num(b[k]) : "(absent)");
        n++;
      } else n += compareJsonValues(a[k], b[k], rtol, file, list, p);
    }
    return n;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) list.add(file, here, num(a), num(b));
  return 1;
}

const NUMBER = /-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/g;

/** Text whose only differences may be numbers (SVG plots): the rest must be identical. */
export function compareTextNumbers(a: string, b: string, rtol: number, file: string, list: MismatchList): number {
  const skeleton = (s: string): string => s.replace(NUMBER, "#");
  if (skeleton(a) !== skeleton(b)) {
    const sa = skeleton(a);
    const sb = skeleton(b);
    let i = 0;
    while (i < sa.length && i < sb.length && sa[i] === sb[i]) i++;
    list.add(file, `text (apart from numbers) differs at character ${i}`, JSON.stringify(sa.slice(i, i + 30)), JSON.stringify(sb.slice(i, i + 30)));
    return 1;
  }
  const na = (a.match(NUMBER) ?? []).map(Number);
  const nb = (b.match(NUMBER) ?? []).map(Number);
  na.forEach((x, i) => {
    if (!close(x, nb[i], rtol)) list.add(file, `number #${i + 1}`, num(x), num(nb[i]));
  });
  return na.length;
}

interface TensorIndexEntry {
  shape: number[];
  offset: number;
  length: number;
}

function readIndex(file: string): Record<string, TensorIndexEntry> | null {
  try {
    const v: unknown = JSON.parse(fs.readFileSync(file, "utf8"));
    return typeof v === "object" && v !== null ? (v as Record<string, TensorIndexEntry>) : null;
  } catch {
    return null;
  }
}

function floats(file: string): Float32Array {
  const buf = fs.readFileSync(file);
  const copy = new Uint8Array(buf.byteLength - (buf.byteLength % 4));
  copy.set(buf.subarray(0, copy.length));
  return new Float32Array(copy.buffer);
}

function g(x: number): string {
  return x === 0 ? "0" : Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? String(Number(x.toPrecision(4))) : x.toExponential(3);
}

/**
 * Checkpoint tensors elementwise: `bin` files of float32 with a `<name>.json` index beside the
 * expected one. Returns the number of tensors compared.
 */
export function compareTensorFiles(expectedBin: string, gotBin: string, rtol: number, file: string, list: MismatchList): number {
  const a = floats(expectedBin);
  const b = floats(gotBin);
  if (a.length !== b.length) {
    list.add(file, "size", `${a.length} floats`, `${b.length} floats`);
    return 1;
  }
  const index = readIndex(expectedBin.replace(/\.bin$/, ".json")) ?? { "(whole file)": { shape: [a.length], offset: 0, length: a.length } };
  let sumSq = 0;
  for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i])) sumSq += a[i] * a[i];
  const rms = a.length ? Math.sqrt(sumSq / a.length) : 0;
  let n = 0;
  for (const name of Object.keys(index).sort()) {
    const e = index[name];
    n++;
    let top = 0;
    let diff = 0;
    let bad = false;
    for (let i = e.offset; i < e.offset + e.length; i++) {
      const x = a[i];
      const y = b[i];
      if (Number.isNaN(x) !== Number.isNaN(y) || (!Number.isFinite(x) && x !== y)) bad = true;
      top = Math.max(top, Math.abs(x));
      const d = Math.abs(x - y);
      if (d > diff) diff = d;
    }
    const scale = Math.max(top, rms);
    if (bad || diff > rtol * scale) {
      const of = top >= rms ? `max|x| ${g(top)}` : `file RMS ${g(rms)}`;
      list.add(file, name, `max|Δ| ≤ ${g(rtol * scale)} (rtol ${rtol} × ${of})`, bad ? "NaN/Inf differs" : `max|Δ| = ${g(diff)}`);
    }
  }
  return n;
}

/** Two PNGs pixel by pixel: each channel value within max(1, ⌈255·rtol⌉) levels. */
export function comparePngFiles(expectedFile: string, gotFile: string, rtol: number, file: string, list: MismatchList): number {
  const a = decodePng(fs.readFileSync(expectedFile), 3, expectedFile);
  const b = decodePng(fs.readFileSync(gotFile), 3, gotFile);
  if (a.width !== b.width || a.height !== b.height) {
    list.add(file, "size", `${a.width}×${a.height}`, `${b.width}×${b.height}`);
    return 1;
  }
  const allowed = Math.max(1, Math.ceil(255 * rtol));
  let worst = 0;
  let over = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    if (d > worst) worst = d;
    if (d > allowed) over++;
  }
  if (over > 0) list.add(file, "pixels", `every value within ${allowed} level${allowed === 1 ? "" : "s"}`, `${over} values off, by up to ${worst}`);
  return 1;
}

export interface FileCompareContext {
  comparison: Comparison;
  rtol: number;
  /** Timing fields of metrics.jsonl. */
  timingFields: readonly string[];
  /** verify --steps K: metrics compared up to step K. */
  upToStep?: number;
}

const METRICS_FILE = "metrics.jsonl";

/**
 * Compare output `rel` of a run (`expectedPath`) with the re-computed file (`gotPath`).
 * Exact: equal sha256 (metrics.jsonl: equal records apart from timing fields); when not equal,
 * the rows say where. Numeric: by file type as described at the top. Returns values compared.
 */
export function compareOutputFile(rel: string, expectedPath: string, gotPath: string, ctx: FileCompareContext, list: MismatchList): number {
  const base = path.posix.basename(rel);
  if (rel === METRICS_FILE || base === METRICS_FILE) {
    const rtol = ctx.comparison === "exact" ? 0 : ctx.rtol;
    return compareMetrics(fs.readFileSync(expectedPath, "utf8"), fs.readFileSync(gotPath, "utf8"), { file: rel, ignore: ctx.timingFields, upToStep: ctx.upToStep, rtol }, list);
  }
  const ha = sha256File(expectedPath);
  const hb = sha256File(gotPath);
  if (ha === hb) return 1;
  const before = list.count;
  if (base.endsWith(".json")) {
    // value by value, measurements left out (measured.ts); exactly on a deterministic backend
    const n = compareJsonFiles(expectedPath, gotPath, ctx.comparison === "exact" ? 0 : ctx.rtol, rel, list);
    if (n !== null) return n;
  } else if (ctx.comparison === "numeric") {
    if (base.endsWith(".bin")) return compareTensorFiles(expectedPath, gotPath, ctx.rtol, rel, list);
    if (base.endsWith(".png")) return comparePngFiles(expectedPath, gotPath, ctx.rtol, rel, list);
    if (base.endsWith(".svg") || base.endsWith(".csv")) return compareTextNumbers(fs.readFileSync(expectedPath, "utf8"), fs.readFileSync(gotPath, "utf8"), ctx.rtol, rel, list);
  }
  if (list.count === before) list.add(rel, "", `sha256 ${shortHash(ha)}`, `sha256 ${shortHash(hb)}`);
  return 1;
}

function compareJsonFiles(expectedPath: string, gotPath: string, rtol: number, rel: string, list: MismatchList): number | null {
  let a: unknown;
  let b: unknown;
  try {
    a = JSON.parse(fs.readFileSync(expectedPath, "utf8"));
    b = JSON.parse(fs.readFileSync(gotPath, "utf8"));
  } catch {
    return null;
  }
  return compareJsonValues(withoutMeasurements(a), withoutMeasurements(b), rtol, rel, list);
}
