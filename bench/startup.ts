/**
 * Start-up times of the CLI: wall and CPU (user + system) of whole `diffx …` processes whose
 * work is negligible, so what is measured is node, npm (for npx) and the modules a command
 * loads. The sample rows run a 2-step ci-tiny run for one 1-step image on each engine: the gap
 * between them is mostly tfjs, which only the tfjs engine loads. Median of `reps` runs each,
 * commands interleaved so that load changes hit all of them.
 *
 *   node --import tsx bench/startup.ts [--reps 5]     (also section `startup` of `npm run bench`)
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(ROOT, "bin", "diffx.js");

export interface StartupRow {
  command: string;
  wall_ms: number;
  cpu_ms: number;
  /** Every run's [wall, cpu] in ms. */
  runs: [number, number][];
}

/** A preload (through NODE_OPTIONS, so npx's processes get it too) that appends each node process's CPU time (all threads, µs) to $DIFFX_BENCH_CPU_FILE at exit. */
const CPU_PRELOAD = 'import { appendFileSync } from "node:fs";\nprocess.on("exit", () => { const u = process.cpuUsage(); appendFileSync(process.env.DIFFX_BENCH_CPU_FILE, `${u.user + u.system}\\n`); });\n';

interface Command {
  name: string;
  /** Arguments after `node [--import preload]`, or the whole command for npx. */
  args: string[];
  npx?: boolean;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One run: wall ms, and CPU ms summed over its node processes (npx: npm's and diffx's). */
function timeOnce(c: Command, cwd: string, preload: string, cpuFile: string): [number, number] {
  fs.rmSync(cpuFile, { force: true });
  const env = { ...process.env, DIFFX_BENCH_CPU_FILE: cpuFile, NODE_OPTIONS: `--import=${pathToFileURL(preload).href}` };
  const t0 = process.hrtime.bigint();
  const r = c.npx ? spawnSync("npx", c.args, { cwd: ROOT, env, encoding: "utf8" }) : spawnSync(process.execPath, c.args, { cwd, env, encoding: "utf8" });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${c.name}: exit ${String(r.status)}: ${(r.stderr ?? "").trim().split("\n").pop() ?? ""}`);
  const cpuUs = fs.existsSync(cpuFile) ? fs.readFileSync(cpuFile, "utf8").trim().split("\n").reduce((a, l) => a + Number(l), 0) : NaN;
  return [wall, cpuUs / 1000];
}

export function benchStartup(o: { reps?: number; log?: (line: string) => void } = {}): StartupRow[] {
  const reps = o.reps ?? 5;
  const log = o.log ?? ((l: string) => console.log(l));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "diffx-bench-startup-"));
  try {
    const run = path.join(dir, "run");
    const train = spawnSync(process.execPath, [BIN, "-q", "train", path.join(ROOT, "configs", "ci-tiny.yaml"), "--set", "train.steps=2", "--set", "train.checkpoint_every=2", "--run-dir", run], { cwd: dir, encoding: "utf8" });
    if (train.status !== 0) throw new Error(`training the ci-tiny run to sample from failed: ${train.stderr.trim()}`);
    const sample = (engine: string, k: number): string[] => [BIN, "-q", "sample", run, "--engine", engine, "--prompt", "x", "--n", "1", "--steps", "1", "--out", path.join(dir, `s-${engine}-${k}`)];
    const commands: (Command & { argsFor?: (k: number) => string[] })[] = [
      { name: "node (empty script)", args: ["-e", "0"] },
      { name: "diffx --version", args: [BIN, "--version"] },
      { name: "diffx --help", args: [BIN, "--help"] },
      { name: "npx diffx --version", args: ["diffx", "--version"], npx: true },
      { name: "diffx sample --engine onnx (1 image, 1 step)", args: [], argsFor: (k) => sample("onnx", k) },
      { name: "diffx sample --engine tfjs (1 image, 1 step)", args: [], argsFor: (k) => sample("tfjs", k) },
    ];
    const runs = new Map<string, [number, number][]>(commands.map((c) => [c.name, []]));
    const cpuFile = path.join(dir, "cpu-us");
    const preload = path.join(dir, "cpu-at-exit.mjs");
    fs.writeFileSync(preload, CPU_PRELOAD);
    for (let k = 0; k < reps; k++) {
      for (const c of commands) runs.get(c.name)!.push(timeOnce({ ...c, args: c.argsFor ? c.argsFor(k) : c.args }, dir, preload, cpuFile));
    }
    const rows = commands.map((c) => {
      const r = runs.get(c.name)!;
      return { command: c.name, wall_ms: median(r.map((x) => x[0])), cpu_ms: median(r.map((x) => x[1])), runs: r };
    });
    for (const r of rows) log(`  ${r.command.padEnd(46)} wall ${r.wall_ms.toFixed(0).padStart(6)} ms   cpu ${r.cpu_ms.toFixed(0).padStart(6)} ms`);
    return rows;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const i = process.argv.indexOf("--reps");
  benchStartup({ reps: i >= 0 ? Number(process.argv[i + 1]) : 5 });
}
