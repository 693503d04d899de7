/**
 * report.html, rendered from report.json: one self-contained file (inline CSS, SVG plots inline,
 * images as base64 PNG data URIs; no scripts, no external resources).
 */
import { encodePng, type Image } from "../engine/image.js";
import { reportPlots } from "./charts.js";
import { comparisonColumns, rowFiles, tileFactor, upscaleNearest } from "./comparison.js";
import { COST_NOTE, curvesNote, headline, TEXT_CONTROL_BY_VALUE_NOTE, TEXT_CONTROL_NOTE } from "./markdown.js";
import type { EvalReport } from "./report-types.js";
import { foldsTable, perFoldTable, posthocTable, provenance, summaryTable, testsTable, textControlByValueTable, textControlTable, trainingTable, variantsTable, type Table } from "./tables.js";
import type { StatsResult } from "../stats/index.js";

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function htmlTable(t: Table, cls = ""): string {
  const head = `<tr>${t.header.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr>`;
  const body = t.rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`).join("\n");
  return `<table${cls ? ` class="${cls}"` : ""}><thead>${head}</thead><tbody>\n${body}\n</tbody></table>`;
}

export function pngDataUri(img: Image): string {
  return `data:image/png;base64,${encodePng(img).toString("base64")}`;
}

const CSS = `
body { font-family: -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; margin: 24px auto; max-width: 1160px; color: #222; line-height: 1.45; padding: 0 16px; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 1.8em; } h3 { margin-bottom: 0.4em; }
.lead { color: #444; } .headline { background: #f3f7fb; border-left: 4px solid #1f77b4; padding: 8px 12px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f5f5f5; } tbody tr:nth-child(even) { background: #fafafa; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; } .plots svg { border: 1px solid #eee; }
.matrix td { text-align: center; } .matrix img { image-rendering: pixelated; display: block; margin: 0 auto; }
.matrix .cond { max-width: 220px; text-align: left; font-size: 0.85em; color: #444; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; } dt { font-weight: 600; } dd { margin: 0; }
.caveats li { margin-bottom: 6px; }
`;

function statsBlock(label: string, s: StatsResult | null): string {
  if (!s) return `<h3>${escapeHtml(label)}</h3><p>Only one variant: no tests.</p>`;
  return `<h3>${escapeHtml(label)}</h3>${htmlTable(testsTable(s))}<p>Post-hoc paired t-tests (a − b per fold, Holm-adjusted over all pairs):</p>${htmlTable(posthocTable(s))}`;
}

/** `load` reads an image by its path relative to the eval folder. */
export function renderHtml(r: EvalReport, load: (rel: string) => Image): string {
  const parts: string[] = [];
  parts.push(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(`diffx eval: ${r.experiment.name}`)}</title><style>${CSS}</style></head><body>`);
  parts.push(`<h1>Eval report: ${escapeHtml(r.experiment.name)}</h1>`);
  parts.push(
    `<p class="lead">${r.cv.k}-fold cross-validation on ${escapeHtml(r.dataset.name)} (${r.dataset.n_pairs} pairs), ${r.variants.length} variant${r.variants.length === 1 ? "" : "s"}, ` +
      `features ${escapeHtml(r.extractor.spec)} (${r.extractor.dims} dims), ${r.sampling.samples_per_fold} generated images per fold and variant. diffx ${escapeHtml(r.diffx_version)}.</p>`,
  );
  parts.push(`<p class="headline">${escapeHtml(headline(r))}</p>`);

  const plots = new Map(reportPlots(r).map((p) => [p.file, p.svg]));
  const plotDiv = (files: string[]): string => `<div class="plots">${files.map((f) => plots.get(f) ?? "").join("")}</div>`;
  parts.push(`<h2>Summary (per variant, over folds)</h2>${htmlTable(summaryTable(r))}`);
  parts.push(plotDiv(["fid-per-fold.svg", "kid-per-fold.svg"]));
  if (plots.has("cost-fid.svg")) {
    parts.push(`<h2>Quality against cost</h2><p>${escapeHtml(COST_NOTE)}</p>${plotDiv(["cost-fid.svg", "cost-kid.svg"])}`);
  }
  parts.push(`<h2>Per-fold scores</h2><p>CIs per cell are BCa bootstrap intervals over that fold's held-out pairs (each resampled with its generated images); the real-vs-real floor is FID/KID between two disjoint sets of real images of the same sizes.</p>${htmlTable(perFoldTable(r))}`);
  const tc = textControlTable(r);
  if (tc) parts.push(`<h2>Text control against its ceiling</h2><p>${escapeHtml(TEXT_CONTROL_NOTE)}</p>${htmlTable(tc)}`);
  const byValue = textControlByValueTable(r);
  if (byValue) parts.push(`<h3>By the value asked for</h3><p>${escapeHtml(TEXT_CONTROL_BY_VALUE_NOTE)}</p>${htmlTable(byValue)}`);
  parts.push(`<h2>Statistics</h2>${statsBlock("FID", r.stats.fid)}${statsBlock("KID", r.stats.kid)}`);

  parts.push(`<h2>Training</h2>${r.curves ? `<p>${escapeHtml(curvesNote(r))}</p>` : ""}${plotDiv(["training-loss.svg", "training-kl.svg", "training-perceptual.svg"])}${htmlTable(trainingTable(r))}`);

  parts.push(`<h2>Real vs generated</h2>`);
  if (r.comparison.rows.length) {
    const cols = comparisonColumns(r);
    parts.push(`<p>Rows: held-out real images; columns: the real image${cols.includes("sketch") ? ", its sketch" : ""}, then the image each variant generated from the same condition (first sample of that condition in the fold).</p>`);
    parts.push(`<table class="matrix"><thead><tr><th>fold · pair</th><th>condition</th>${cols.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr></thead><tbody>`);
    r.comparison.rows.forEach((row, i) => {
      const imgs = rowFiles(r, i).map((f) => {
        const img = load(f);
        const up = upscaleNearest(img, tileFactor(img));
        return `<td><img alt="${escapeHtml(f)}" width="${up.width}" height="${up.height}" src="${pngDataUri(up)}"></td>`;
      });
      parts.push(`<tr><td>${row.fold} · ${escapeHtml(row.pair_id)}</td><td class="cond">${escapeHtml(row.condition)}</td>${imgs.join("")}</tr>`);
    });
    parts.push(`</tbody></table>`);
  } else parts.push(`<p>No comparison rows.</p>`);

  parts.push(`<h2>How the numbers were computed</h2><dl>${provenance(r).map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join("")}</dl>`);
  parts.push(`<h3>Variants</h3>${htmlTable(variantsTable(r))}<h3>Folds</h3>${htmlTable(foldsTable(r))}`);
  parts.push(`<h2>Caveats</h2><ul class="caveats">${r.caveats.map((c) => `<li>${escapeHtml(c)}</li>`).join("")}</ul>`);
  parts.push(`</body></html>\n`);
  return parts.join("\n");
}
