/**
 * The fold × variant table: CSV parsing (header with at least fold,variant,value; other columns
 * ignored) and the check that turns observations into a complete matrix. Every problem is a
 * UsageError naming the file and, where there is one, the line.
 */
import * as fs from "node:fs";
import { UsageError } from "../errors.js";

/** One measured value: the score of one variant on one fold. */
export interface Observation {
  fold: string;
  variant: string;
  value: number;
  /** 1-based line in the source file, when the observation came from a file. */
  line?: number;
}

/** A complete table: values[i][j] is fold i, variant j (in order of first appearance). */
export interface FoldMatrix {
  folds: string[];
  variants: string[];
  values: number[][];
}

const REQUIRED = ["fold", "variant", "value"] as const;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Read and parse a CSV table file. */
export function readTableCsv(file: string): Observation[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    const code = err instanceof Error && "code" in err ? String((err as NodeJS.ErrnoException).code) : "unreadable";
    throw new UsageError(`${file}: cannot read the table (${code})`);
  }
  return parseTableCsv(text, file);
}

/** Parse CSV text with a header containing fold, variant and value. `file` names it in errors. */
export function parseTableCsv(text: string, file: string): Observation[] {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const headerIndex = lines.findIndex((l) => l.trim() !== "");
  if (headerIndex < 0) throw new UsageError(`${file}: the table is empty (expected a header with fold,variant,value)`);
  const header = splitCsvLine(lines[headerIndex]!, file, headerIndex + 1).map((h) => h.toLowerCase());
  const missing = REQUIRED.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    throw new UsageError(`${file} line ${headerIndex + 1}: the header lacks column(s) ${missing.join(", ")} (it needs fold, variant and value; found: ${header.join(", ")})`);
  }
  const col = { fold: header.indexOf("fold"), variant: header.indexOf("variant"), value: header.indexOf("value") };

  const out: Observation[] = [];
  for (let i = headerIndex + 1; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === "") continue;
    const line = i + 1;
    const cells = splitCsvLine(raw, file, line);
    if (cells.length !== header.length) {
      throw new UsageError(`${file} line ${line}: ${cells.length} cell(s), but the header has ${header.length}`);
    }
    const fold = cells[col.fold]!;
    const variant = cells[col.variant]!;
    const valueText = cells[col.value]!;
    if (fold === "") throw new UsageError(`${file} line ${line}: the fold cell is empty`);
    if (variant === "") throw new UsageError(`${file} line ${line}: the variant cell is empty`);
    if (!NUMBER.test(valueText)) {
      throw new UsageError(`${file} line ${line}: value ${JSON.stringify(valueText)} (fold ${fold}, variant ${variant}) is not a number`);
    }
    const value = Number(valueText);
    if (!Number.isFinite(value)) throw new UsageError(`${file} line ${line}: value ${valueText} is out of range`);
    out.push({ fold, variant, value, line });
  }
  return out;
}

/**
 * Arrange observations as a complete fold × variant matrix. Folds and variants keep their order
 * of first appearance. `source` names the table in errors (a file path, or e.g. "eval results").
 */
export function toFoldMatrix(observations: readonly Observation[], source: string): FoldMatrix {
  const folds: string[] = [];
  const variants: string[] = [];
  // sets beside the ordered lists: a long table (10⁵ rows) would make includes() quadratic
  const foldSet = new Set<string>();
  const variantSet = new Set<string>();
  const seen = new Map<string, Observation>();
  const key = (fold: string, variant: string): string => JSON.stringify([fold, variant]);
  for (const o of observations) {
    const where = o.line === undefined ? source : `${source} line ${o.line}`;
    if (!Number.isFinite(o.value)) throw new UsageError(`${where}: value for fold ${o.fold}, variant ${o.variant} is not a finite number`);
    const k = key(o.fold, o.variant);
    const first = seen.get(k);
    if (first) {
      const firstAt = first.line === undefined ? "" : ` (first given on line ${first.line})`;
      throw new UsageError(`${where}: duplicate cell for fold ${o.fold}, variant ${o.variant}${firstAt}`);
    }
    seen.set(k, o);
    if (!foldSet.has(o.fold)) {
      foldSet.add(o.fold);
      folds.push(o.fold);
    }
    if (!variantSet.has(o.variant)) {
      variantSet.add(o.variant);
      variants.push(o.variant);
    }
  }
  if (variants.length < 2) {
    throw new UsageError(`${source}: needs at least 2 variants to compare, found ${variants.length}${variants.length ? ` (${variants.join(", ")})` : ""}`);
  }
  if (folds.length < 2) {
    throw new UsageError(`${source}: needs at least 2 folds, found ${folds.length}${folds.length ? ` (${folds.join(", ")})` : ""}`);
  }
  const values = folds.map((fold) =>
    variants.map((variant) => {
      const o = seen.get(key(fold, variant));
      if (!o) throw new UsageError(`${source}: missing cell: no value for fold ${fold}, variant ${variant} (every fold needs one row per variant)`);
      return o.value;
    }),
  );
  return { folds, variants, values };
}

/** Split one CSV line into trimmed cells; double-quoted cells may contain commas and "" escapes. */
function splitCsvLine(line: string, file: string, lineNo: number): string[] {
  const cells: string[] = [];
  let cell = "";
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell.trim() === "" && !wasQuoted) {
      quoted = true;
      wasQuoted = true;
      cell = "";
    } else if (ch === ",") {
      cells.push(wasQuoted ? cell : cell.trim());
      cell = "";
      wasQuoted = false;
    } else if (wasQuoted) {
      if (ch.trim() !== "") throw new UsageError(`${file} line ${lineNo}: text after a closing quote`);
    } else cell += ch;
  }
  if (quoted) throw new UsageError(`${file} line ${lineNo}: unterminated quote`);
  cells.push(wasQuoted ? cell : cell.trim());
  return cells;
}
