import * as path from "node:path";
import type { Command } from "commander";
import { RuntimeFailure, UsageError } from "../../errors.js";
import { loadConfig } from "../../config/load.js";
import { buildDataset, defaultDatasetDir } from "../../data/build.js";
import { loadDataset, verifyDataset, DATASET_KINDS, type DatasetKind } from "../../data/dataset.js";
import { importDataset } from "../../data/import.js";
import { checkPairImages } from "../../data/loader.js";
import { summarizeDataset, writeContactSheet, type DatasetSummary } from "../../data/show.js";
import type { WriteResult } from "../../data/write.js";
import { globalOptions } from "../context.js";
import { Reporter } from "../output.js";

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function shown(dir: string): string {
  const rel = path.relative(process.cwd(), dir);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : dir;
}

function writeResultText(verb: string, r: WriteResult): string {
  if (r.reused) return `${shown(r.dir)} already holds this dataset (${r.n} pairs, hash ${r.hash}); nothing written`;
  return `${verb} ${shown(r.dir)}: ${r.n} pairs, hash ${r.hash}${r.replaced ? " (replaced the previous dataset)" : ""}`;
}

function summaryText(s: DatasetSummary, contact: string): string {
  const lines = [
    `dataset    ${shown(s.dir)}`,
    `kind       ${s.kind} (${s.generator.name} ${s.generator.version}${s.seed !== null ? `, seed ${s.seed}` : ""})`,
    `pairs      ${s.n} in ${s.groups} group${s.groups === 1 ? "" : "s"}, ${s.image_size}×${s.image_size} px`,
    `captions   ${s.captions.en} English, ${s.captions.zh} Chinese`,
    `hash       ${s.hash}`,
  ];
  const keys = Object.keys(s.attributes);
  if (keys.length > 0) lines.push("attributes");
  for (const key of keys) {
    const a = s.attributes[key];
    if (a.kind === "range") lines.push(`  ${key}: ${a.min}…${a.max} (mean ${a.mean.toFixed(1)})`);
    else lines.push(`  ${key}: ${Object.entries(a.counts).map(([v, c]) => `${v} ${c}`).join(", ")}`);
  }
  lines.push(`contact sheet: ${shown(contact)}`);
  return lines.join("\n");
}

function parseSize(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n < 1 || n > 4096) throw new UsageError(`--size: expected a whole number of pixels between 1 and 4096, got '${v}'`);
  return n;
}

export function registerData(program: Command): void {
  const data = program.command("data").description("build, import, inspect and verify paired datasets");

  data
    .command("build <config>")
    .description("generate the dataset named by the config (datasets/<dataset.name>/ under the current folder)")
    .option("--out <dir>", "output folder")
    .option("--force", "overwrite a different existing dataset")
    .option("--set <key=value>", "override a config key (repeatable)", collect, [] as string[])
    .action((configFile: string, opts: { out?: string; force?: boolean; set: string[] }, cmd: Command) => {
      const reporter = new Reporter(globalOptions(cmd));
      const { config } = loadConfig(configFile, opts.set);
      const out = opts.out !== undefined ? path.resolve(opts.out) : defaultDatasetDir(config.dataset);
      const r = buildDataset(config.dataset, out, { force: opts.force, progress: reporter });
      reporter.result(writeResultText("built", r), { dir: r.dir, kind: config.dataset.kind, n: r.n, hash: r.hash, reused: r.reused, replaced: r.replaced });
    });

  data
    .command("import")
    .description("import a folder of your own pairs (art: images + captions; sketch2render: sketches/ + renders/)")
    .requiredOption("--kind <kind>", "art | sketch2render")
    .requiredOption("--from <dir>", "source folder")
    .option("--out <dir>", "output folder (default: datasets/<name of the source folder>)")
    .option("--size <n>", "stored image size in pixels (centre crop, then resize)", "128")
    .option("--force", "overwrite a different existing dataset")
    .action(async (opts: { kind: string; from: string; out?: string; size?: string; force?: boolean }, cmd: Command) => {
      const reporter = new Reporter(globalOptions(cmd));
      if (!(DATASET_KINDS as readonly string[]).includes(opts.kind)) throw new UsageError(`--kind: expected one of ${DATASET_KINDS.join(", ")}, got '${opts.kind}'`);
      const from = path.resolve(opts.from);
      const out = opts.out !== undefined ? path.resolve(opts.out) : path.resolve("datasets", path.basename(from));
      const r = await importDataset({ kind: opts.kind as DatasetKind, from, out, size: parseSize(opts.size), force: opts.force, progress: reporter });
      reporter.result(writeResultText("imported", r), { dir: r.dir, kind: opts.kind, n: r.n, hash: r.hash, reused: r.reused, replaced: r.replaced });
    });

  data
    .command("show <dir>")
    .description("summarise a dataset and write its contact sheet (DIR/contact.png)")
    .action((dir: string, _opts: unknown, cmd: Command) => {
      const reporter = new Reporter(globalOptions(cmd));
      const ds = loadDataset(dir);
      const summary = summarizeDataset(ds);
      const contact = writeContactSheet(ds);
      reporter.result(summaryText(summary, contact), { ...summary, contact });
    });

  data
    .command("verify <dir>")
    .description("check every file against the dataset manifest (exit 1 if any changed or is missing), then read the pairs and images as training will (exit 2 on a problem)")
    .action((dir: string, _opts: unknown, cmd: Command) => {
      const reporter = new Reporter(globalOptions(cmd));
      const r = verifyDataset(dir);
      if (!r.ok) {
        const bad = [...r.changed.map((f) => `${f} (changed)`), ...r.missing.map((f) => `${f} (missing)`)];
        if (globalOptions(cmd).json) process.stdout.write(JSON.stringify({ dir: path.resolve(dir), ...r }, null, 2) + "\n");
        throw new RuntimeFailure(`${dir}: ${bad.length === 1 ? "1 file does" : `${bad.length} files do`} not match manifest.json: ${bad.join(", ")}`);
      }
      // the files are the recorded ones; now read them as training will (pairs.jsonl records, every image decodes and is square)
      checkPairImages(loadDataset(dir));
      reporter.result(`${shown(path.resolve(dir))}: all ${r.checked} files match manifest.json (hash ${r.hash})`, { dir: path.resolve(dir), ...r });
    });
}
