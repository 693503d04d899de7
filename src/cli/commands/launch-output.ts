/** How a Slurm submission (or its dry run) is shown: the scripts, the commands, the job ids. */
import * as path from "node:path";
import type { ScriptFile } from "../../eval/launchers/slurm-eval.js";

/** A path relative to the current folder when that is shorter. */
export function shown(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && rel.length < file.length ? rel : file;
}

/** Each script after a header line naming its file and the command that submits it. */
export function scriptsText(scripts: readonly ScriptFile[]): string {
  return scripts.map((s) => [`# ---- ${shown(s.file)}  (submit: ${s.command})`, s.text.trimEnd()].join("\n")).join("\n\n");
}
