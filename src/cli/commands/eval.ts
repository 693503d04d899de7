/** `diffx eval CONFIG [--folds K] [--parallel N] [--set k=v]… [--run-dir DIR]` / `diffx eval --resume EVALRUN`. */
import { Option, type Command } from "commander";
import * as path from "node:path";
import type { Table } from "../../report/tables.js";
import { UsageError } from "../../errors.js";
import { globalOptions } from "../context.js";
import { withInterrupt } from "../interrupt.js";
import { Reporter } from "../output.js";
import { collectSets } from "./config.js";
import { scriptsText, shown } from "./launch-output.js";

interface EvalOpts {
  folds?: string;
  parallel?: string;
  set: string[];
  runDir?: string;
  resume?: string;
  fresh?: boolean;
  launcher?: "local" | "slurm";
  dryRun?: boolean;
}

function positiveInt(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`${flag} ${text}: expected a whole number`);
  return Number(text);
}

function textTable(t: Table): string {
  const all = [t.header, ...t.rows];
  const widths = t.header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? "").length)));
  return all.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join("  ")).join("\n");
}

export function registerEval(program: Command): void {
  program
    .command("eval [config]")
    .description("k-fold cross-validated evaluation: train per fold, sample, FID/KID + control metrics, ANOVA, report (runs/<name>-<time>/eval/)")
    .option("--folds <k>", "number of folds (default: eval.folds)")
    .option("--parallel <n>", "folds trained at once, as child processes (default: eval.parallel)")
    .option("--set <key=value>", "override a config key (repeatable)", collectSets, [] as string[])
    .option("--run-dir <dir>", "eval run folder to create or continue (default runs/<name>-<UTC time>)")
    .option("--resume <evalrun>", "continue an interrupted eval run with its recorded config")
    .option("--fresh", "start a new eval run even if one with the same config exists")
    .addOption(new Option("--launcher <kind>", "where the trainings run: local processes, or Slurm jobs (default: launcher.kind)").choices(["local", "slurm"]))
    .option("--dry-run", "with --launcher slurm: print the batch scripts and sbatch commands, submit nothing")
    .action(async (config: string | undefined, opts: EvalOpts, cmd: Command) => {
      const g = globalOptions(cmd);
      const rep = new Reporter(g);
      const folds = positiveInt("--folds", opts.folds);
      const parallel = positiveInt("--parallel", opts.parallel);
      if (folds !== undefined && folds < 2) throw new UsageError(`--folds ${folds}: k-fold cross-validation needs at least 2 folds`);
      if (parallel !== undefined && parallel < 1) throw new UsageError(`--parallel ${parallel}: must be at least 1`);
      if (opts.resume && opts.fresh) throw new UsageError("--fresh and --resume contradict each other");
      const { evalLauncher } = await import("../../eval/launchers/choose.js");
      const launcher = evalLauncher({ launcher: opts.launcher, configFile: config, sets: opts.set, resume: opts.resume });
      if (launcher.kind === "slurm") {
        // before the submitter is loaded (it pulls in tfjs): no sbatch, no wait
        const { requireSlurm } = await import("../../eval/launchers/slurm-client.js");
        if (!opts.dryRun) requireSlurm("diffx eval --launcher slurm");
        const { submitEvalToSlurm, checkSlurmEvalOptions } = await import("../../eval/launchers/slurm-eval.js");
        checkSlurmEvalOptions({ parallel });
        const s = submitEvalToSlurm({ configFile: config, sets: opts.set, folds, resume: opts.resume, runDir: opts.runDir, fresh: opts.fresh, backend: g.backend, launcher, dryRun: opts.dryRun, progress: rep });
        const lines: string[] = [];
        if (s.dryRun) lines.push(scriptsText(s.scripts), "", `dry run: nothing was written or submitted${s.unchecked ? ` (${s.unchecked})` : ""}`);
        else if (s.nothing) lines.push(`nothing submitted: ${s.nothing}`);
        else {
          if (s.train) lines.push(`submitted training array ${s.train.job}: ${s.train.tasks.map((t) => `task ${t.index} ${t.training}`).join(", ")}`);
          for (const k of s.kept) lines.push(`still queued or running: ${k.training} (job ${k.job})`);
          if (s.finished.length) lines.push(`already finished: ${s.finished.join(", ")}`);
          if (s.finish) lines.push(`submitted final job ${s.finish.job} (samples, scores, writes the report)${s.finish.after.length ? ` after ${s.finish.after.join(", ")}` : ""}`);
          lines.push(`follow it with: diffx status ${shown(s.runDir)}`);
        }
        lines.push(`run: ${s.runDir}`);
        rep.result(lines.join("\n"), s);
        return;
      }
      if (opts.dryRun) throw new UsageError("--dry-run prints the Slurm batch scripts: use it with --launcher slurm (or launcher.kind: slurm)");
      // loaded here, not at start-up: they pull in tfjs and onnxruntime
      const { runEval } = await import("../../eval/run-eval.js");
      const { headline } = await import("../../report/markdown.js");
      const { summaryTable } = await import("../../report/tables.js");
      const r = await withInterrupt(rep, (signal) =>
        runEval({ configFile: config, sets: opts.set, folds, parallel, resume: opts.resume, runDir: opts.runDir, fresh: opts.fresh, backend: g.backend, progress: rep, signal }),
      );
      if (r.interrupted || !r.report || !r.files) {
        rep.result(`interrupted; continue with: diffx eval --resume ${r.runDir}\nrun: ${r.runDir}`, { run: r.runDir, interrupted: true });
        process.exitCode = 130;
        return;
      }
      const rel = (f: string): string => path.relative(process.cwd(), f) || f;
      const report = r.report;
      const human = [
        `${report.experiment.name}: ${report.cv.k}-fold eval, ${report.variants.length} variant${report.variants.length === 1 ? "" : "s"}, features ${report.extractor.spec} (${report.extractor.dims} dims)`,
        "",
        textTable(summaryTable(report)),
        "",
        headline(report),
        `trainings: ${r.trained.length} trained, ${r.reused.length} reused`,
        `report: ${rel(r.files.html)} (also ${path.basename(r.files.md)}, ${path.basename(r.files.json)})`,
      ].join("\n");
      rep.result(human, { ...report.summary, run: r.runDir, report: r.files, trained: r.trained, reused: r.reused });
    });
}
