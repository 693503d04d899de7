/**
 * Writing an eval report: comparison.png (the real-vs-generated matrix), then report.json (the
 * source of truth), then the plots (plots/*.svg), report.md (which links them) and report.html
 * (which shows them inline), all rendered from it. Every file is atomic.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../engine/atomic.js";
import { readPng, writePng, type Image } from "../engine/image.js";
import { RuntimeFailure } from "../errors.js";
import { PLOTS_DIR, reportPlots } from "./charts.js";
import { comparisonGrid } from "./comparison.js";
import { renderHtml } from "./html.js";
import { renderMarkdown } from "./markdown.js";
import { EVAL_REPORT_FORMAT, type EvalReport } from "./report-types.js";

export const REPORT_FILES = { json: "report.json", md: "report.md", html: "report.html", grid: "comparison.png" } as const;

export interface WrittenReport {
  json: string;
  md: string;
  html: string;
}

/** An image the report names, read from the eval folder (cached: the matrix and the HTML share them). */
function imageLoader(evalDir: string): (rel: string) => Image {
  const cache = new Map<string, Image>();
  return (rel) => {
    let img = cache.get(rel);
    if (!img) {
      const file = path.join(evalDir, rel);
      if (!fs.existsSync(file)) throw new RuntimeFailure(`${file}: image named in the report is missing`);
      img = readPng(file, 3);
      cache.set(rel, img);
    }
    return img;
  };
}

export function writeEvalReport(evalDir: string, report: EvalReport): WrittenReport {
  const load = imageLoader(evalDir);
  const grid = comparisonGrid(report, load);
  if (grid) writePng(path.join(evalDir, REPORT_FILES.grid), grid);
  const final: EvalReport = { ...report, comparison: { ...report.comparison, grid: grid ? REPORT_FILES.grid : null } };
  const files = { json: path.join(evalDir, REPORT_FILES.json), md: path.join(evalDir, REPORT_FILES.md), html: path.join(evalDir, REPORT_FILES.html) };
  writeJsonAtomic(files.json, final);
  for (const p of reportPlots(final)) writeFileAtomic(path.join(evalDir, PLOTS_DIR, p.file), p.svg);
  writeFileAtomic(files.md, renderMarkdown(final));
  writeFileAtomic(files.html, renderHtml(final, load));
  return files;
}

/** Read a report.json back (e.g. to re-render it). */
export function readEvalReport(file: string): EvalReport {
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new RuntimeFailure(`${file}: unreadable report (${(err as Error).message})`);
  }
  if (!data || typeof data !== "object" || (data as { format?: unknown }).format !== EVAL_REPORT_FORMAT) throw new RuntimeFailure(`${file}: not a ${EVAL_REPORT_FORMAT} report`);
  return data as EvalReport;
}

/** Re-render report.md and report.html from an eval folder's report.json. */
export function rerenderEvalReport(evalDir: string): WrittenReport {
  return writeEvalReport(evalDir, readEvalReport(path.join(evalDir, REPORT_FILES.json)));
}
