/**
 * Pretraining speed: `diffx pretrain` on each shipped pretraining config for a few hundred
 * steps (`--until-step`), through the real CLI in a temporary folder, reporting the training
 * steps/s it logged (metrics.jsonl) and the whole-process wall time. The corpus is drawn once
 * per config and kept in the temporary folder's datasets/ for the run (drawing it is timed
 * separately: `corpus_s`).
 *
 *   node --import tsx bench/pretrain.ts [--steps 200] [--configs configs/pretrain-art-32.yaml,…]
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const PRETRAIN_CONFIGS = ["configs/pretrain-art-32.yaml", "configs/pretrain-sketch-32.yaml"];

export interface PretrainBenchRow {
  config: string;
  steps: number;
  steps_per_s: number | null;
  corpus_s: number;
  wall_s: number;
  error?: string;
}

function cli(args: string[], cwd: string): { code: number; stderr: string; seconds: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [path.join(ROOT, "bin", "diffx.js"), ...args], { cwd, encoding: "utf8" });
  return { code: r.status ?? -1, stderr: r.stderr ?? "", seconds: (Date.now() - t0) / 1000 };
}

export function benchPretrain(o: { steps: number; configs?: string[]; log?: (s: string) => void }): PretrainBenchRow[] {
  const rows: PretrainBenchRow[] = [];
  for (const rel of o.configs ?? PRETRAIN_CONFIGS) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "diffx-bench-pretrain-"));
    try {
      const config = path.resolve(ROOT, rel);
      const corpus = cli(["data", "build", config, "--quiet"], dir);
      if (corpus.code !== 0) {
        rows.push({ config: rel, steps: 0, steps_per_s: null, corpus_s: corpus.seconds, wall_s: 0, error: corpus.stderr.trim() });
        continue;
      }
      const run = cli(["pretrain", config, "--until-step", String(o.steps), "--run-dir", path.join(dir, "run"), "--quiet"], dir);
      const metrics = fs.existsSync(path.join(dir, "run", "metrics.jsonl"))
        ? fs.readFileSync(path.join(dir, "run", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { step: number; steps_per_s: number })
        : [];
      const last = metrics[metrics.length - 1];
      const row: PretrainBenchRow = { config: rel, steps: last?.step ?? 0, steps_per_s: last?.steps_per_s ?? null, corpus_s: corpus.seconds, wall_s: run.seconds };
      if (run.code !== 0) row.error = run.stderr.trim();
      rows.push(row);
      o.log?.(`  ${rel}: ${row.steps_per_s?.toFixed(2) ?? "–"} steps/s over ${row.steps} steps (corpus drawn in ${row.corpus_s.toFixed(0)} s, run ${row.wall_s.toFixed(0)} s)${row.error ? ` — ${row.error}` : ""}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const rows = benchPretrain({ steps: Number(arg("steps") ?? 200), configs: arg("configs")?.split(","), log: console.log });
  console.log(JSON.stringify(rows, null, 2));
}
