/**
 * The quickstart's budget (≤ 10 minutes wall, ≤ 2 GiB peak memory of the whole process tree on
 * 2 cores): runs `diffx eval CONFIG` through the real CLI in a temporary folder (or --cwd) and
 * samples the resident memory of the process and all its descendants from /proc every 250 ms.
 * Prints wall seconds, the peak of the summed RSS, and the report's FID/KID per variant.
 *
 *   node --import tsx bench/quickstart.ts [--config configs/quickstart.yaml] [--cwd DIR] [-- extra diffx args]
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Summed RSS (bytes) of `pid` and every descendant, read from /proc. */
export function treeRss(pid: number): number {
  const children = new Map<number, number[]>();
  const rss = new Map<number, number>();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ppid = Number(fields[1]);
      rss.set(Number(d), Number(fields[21]) * 4096);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // the process ended while we looked
    }
  }
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop() as number;
    total += rss.get(p) ?? 0;
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}

export interface QuickstartBench {
  config: string;
  exit_code: number;
  wall_s: number;
  peak_tree_rss_mib: number;
  report: string | null;
}

export async function benchQuickstart(o: { config: string; cwd: string; extra?: string[] }): Promise<QuickstartBench> {
  fs.mkdirSync(o.cwd, { recursive: true });
  const t0 = Date.now();
  const child = spawn(process.execPath, [path.join(ROOT, "bin", "diffx.js"), "eval", o.config, "--folds", "5", ...(o.extra ?? [])], { cwd: o.cwd, stdio: ["ignore", "inherit", "inherit"] });
  let peak = 0;
  const timer = setInterval(() => {
    if (child.pid) peak = Math.max(peak, treeRss(child.pid));
  }, 250);
  const code: number = await new Promise((resolve) => child.on("exit", (c) => resolve(c ?? -1)));
  clearInterval(timer);
  const runs = path.join(o.cwd, "runs");
  const reports = fs.existsSync(runs) ? fs.readdirSync(runs).map((d) => path.join(runs, d, "eval", "report.json")).filter((f) => fs.existsSync(f)) : [];
  return { config: o.config, exit_code: code, wall_s: (Date.now() - t0) / 1000, peak_tree_rss_mib: peak / 2 ** 20, report: reports.sort().pop() ?? null };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const dd = process.argv.indexOf("--");
  const extra = dd >= 0 ? process.argv.slice(dd + 1) : [];
  const cwd = arg("cwd") ?? fs.mkdtempSync(path.join(os.tmpdir(), "diffx-bench-quickstart-"));
  const r = await benchQuickstart({ config: path.resolve(ROOT, arg("config") ?? "configs/quickstart.yaml"), cwd, extra });
  console.log(JSON.stringify(r, null, 2));
}
