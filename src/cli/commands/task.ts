/**
 * `diffx task eval-train EVALRUN TRAINING` / `diffx task eval-finish EVALRUN`: the work of one
 * cluster job of an eval (what the Slurm launcher's batch scripts run). Hidden from --help: a
 * user runs `diffx eval`, which writes the scripts that call these.
 */
import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { globalOptions } from "../context.js";
import { withInterrupt } from "../interrupt.js";
import { Reporter } from "../output.js";

interface TaskOpts {
  threads?: string;
}

export function registerTask(program: Command): void {
  const task = program.command("task", { hidden: true }).description("one job of an eval submitted to a cluster (run by the batch scripts diffx eval writes)");
  task
    .command("eval-train <evalrun> <training>")
    .description("train (or resume, or skip when finished) one fold training of an eval, e.g. fold-0/train")
    .option("--threads <n>", "CPU threads (default: engine.threads)")
    .action(async (evalRun: string, training: string, opts: TaskOpts, cmd: Command) => {
      const g = globalOptions(cmd);
      const rep = new Reporter(g);
      const threads = opts.threads === undefined ? undefined : Number(opts.threads);
      if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) throw new UsageError(`--threads ${opts.threads}: expected a positive whole number`);
      const { runTrainingTask } = await import("../../eval/launchers/training-task.js");
      const r = await withInterrupt(rep, (signal) => runTrainingTask({ evalRun, training, backend: g.backend, threads, progress: rep, signal }));
      rep.result(`${training}: ${r.outcome}\nrun: ${r.dir}`, r);
      if (r.outcome === "interrupted") process.exitCode = 130;
    });
  task
    .command("eval-finish <evalrun>")
    .description("sample, score and report an eval whose trainings are all finished")
    .action(async (evalRun: string, _opts: unknown, cmd: Command) => {
      const g = globalOptions(cmd);
      const rep = new Reporter(g);
      const { runEval } = await import("../../eval/run-eval.js");
      const r = await withInterrupt(rep, (signal) => runEval({ resume: evalRun, requireTrained: true, backend: g.backend, progress: rep, signal }));
      if (r.interrupted || !r.files) {
        rep.result(`interrupted\nrun: ${r.runDir}`, { run: r.runDir, interrupted: true });
        process.exitCode = 130;
        return;
      }
      rep.result(`report: ${r.files.html}\nrun: ${r.runDir}`, { run: r.runDir, report: r.files });
    });
}
