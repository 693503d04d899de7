/**
 * `diffx verify RUN [--stage data|train|sample|eval|all] [--steps K]`: check the run folder
 * against its manifest and re-run its recorded stages in a temporary folder. Exit 0 when
 * everything matches, 1 with a table of mismatches (file, where, expected, got), 2 for usage
 * errors (unknown run, bad stage, K out of range).
 */
import { Option, type Command } from "commander";
import { UsageError } from "../../errors.js";
import type { VerifyReport } from "../../runs/verify-types.js";
import { globalOptions } from "../context.js";
import { withInterrupt } from "../interrupt.js";
import { Reporter } from "../output.js";

const STAGES = ["data", "train", "sample", "eval", "all"] as const;
type StageArg = (typeof STAGES)[number];

interface VerifyOpts {
  stage: StageArg;
  steps?: string;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join("  ").trimEnd()).join("\n");
}

/** The human report: one line per check (with its notes), then the mismatch table. */
export function formatVerifyReport(r: VerifyReport): string {
  const lines = [`verify ${r.run}`];
  for (const n of r.notes) lines.push(`  note: ${n}`);
  const name = Math.max(...r.checks.map((c) => c.check.length));
  const statuses = r.checks.map((c) => (c.status === "match" ? "ok" : `MISMATCH (${c.mismatches})`));
  const width = Math.max(...statuses.map((s) => s.length));
  r.checks.forEach((c, i) => {
    lines.push(`  ${c.check.padEnd(name)}  ${statuses[i].padEnd(width)}  ${c.summary}`);
    for (const n of c.notes) lines.push(`  ${" ".repeat(name)}  ${" ".repeat(width)}  note: ${n}`);
  });
  if (r.ok) {
    lines.push("OK: the run folder matches its manifest and every re-run stage reproduced it");
    return lines.join("\n");
  }
  const total = r.checks.reduce((a, c) => a + c.mismatches, 0);
  lines.push("", `MISMATCH: ${total} difference${total === 1 ? "" : "s"}`, "");
  lines.push(table([["check", "file", "where", "expected", "got"], ...r.mismatches.map((m) => [m.check, m.file, m.where, m.expected, m.got])]));
  return lines.join("\n");
}

function parseSteps(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim()) || Number(v) < 1) throw new UsageError(`--steps ${v}: expected a positive whole number of training steps`);
  return Number(v);
}

export function registerVerify(program: Command): void {
  program
    .command("verify <run>")
    .description("check a run folder against its manifest and re-run its stages to prove they reproduce (exit 0 = match, 1 = mismatch)")
    .addOption(new Option("--stage <stage>", "which recorded stages to re-run").choices([...STAGES]).default("all"))
    .option("--steps <k>", "re-run only the first K training steps (compared with the metrics and checkpoint recorded at K)")
    .action(async (run: string, opts: VerifyOpts, cmd: Command) => {
      const g = globalOptions(cmd);
      const rep = new Reporter(g);
      const steps = parseSteps(opts.steps);
      // loaded lazily: the re-runs pull in tfjs
      const { verifyRun } = await import("../../runs/verify.js");
      const { stageRunners } = await import("../../verify/stage-runners.js");
      const r = await withInterrupt(rep, (signal) => verifyRun({ run, stage: opts.stage, steps, backend: g.backend, progress: rep, signal, runners: stageRunners }));
      const text = formatVerifyReport(r);
      rep.result(text, r);
      if (!r.ok && g.quiet && !g.json) process.stderr.write(text + "\n");
      if (!r.ok) process.exitCode = 1;
    });
}
