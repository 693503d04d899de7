/** `diffx status EVALRUN`: every training, cell and the report of an eval, with its Slurm job and log. */
import type { Command } from "commander";
import * as path from "node:path";
import { globalOptions } from "../context.js";
import { Reporter } from "../output.js";
import { shown } from "./launch-output.js";

export function registerStatus(program: Command): void {
  program
    .command("status <evalrun>")
    .description("state of every fold training and fold × variant cell of an eval: queued / running (step k of n) / done / failed, with the Slurm job and its log")
    .action(async (evalRun: string, _opts: unknown, cmd: Command) => {
      const { evalStatus } = await import("../../eval/status.js");
      const rep = new Reporter(globalOptions(cmd));
      const s = evalStatus(evalRun);
      const rows = s.rows.map((r) => [r.item, r.state, r.detail, r.job ?? "-", r.log ? shown(path.join(s.runDir, r.log)) : "-"]);
      const all = [["item", "state", "detail", "slurm job", "log"], ...rows];
      const widths = all[0].map((_, c) => Math.max(...all.map((r) => r[c].length)));
      const table = all.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join("  ")).join("\n");
      const done = s.rows.filter((r) => r.state === "done").length;
      const lines = [`${shown(s.runDir)}: eval ${s.status} (${s.launcher}), ${done} of ${s.rows.length} done`, "", table];
      if (!s.slurmVisible) lines.push("", "squeue is not available here: Slurm job states are unknown (run diffx status where the Slurm client tools are)");
      rep.result(lines.join("\n"), s);
    });
}
