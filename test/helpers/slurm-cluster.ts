/**
 * A real single-node Slurm cluster on loopback for tests: Debian's munge, slurmctld and slurmd
 * (22.05), run as root in the foreground as children of the test process (no systemd, no
 * cgroups), with every state, spool, pid, log and socket file in a temporary folder and ports
 * of their own, so nothing of the machine's own Slurm or munge (if any) is touched. Stopped by
 * pid. Clients reach it through SLURM_CONF (in `env`).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { alive } from "./process.js";

export interface SlurmCluster {
  dir: string;
  /** Environment for Slurm clients (and diffx) to use this cluster. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

const TOOLS = ["munged", "runuser", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo"];
const MUNGE_KEY = "/etc/munge/munge.key";

function onPath(name: string): boolean {
  return (process.env.PATH ?? "").split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, name)));
}

/** Why a Slurm cluster cannot be started here, or null when it can. */
export function slurmUnavailable(): string | null {
  const missing = TOOLS.filter((t) => !onPath(t) && !fs.existsSync(path.join("/usr/sbin", t)));
  if (missing.length) return `Slurm tests need Debian's slurmctld, slurmd, slurm-client and munge (apt-get install slurmctld slurmd slurm-client munge); missing here: ${missing.join(", ")}`;
  if (!fs.existsSync(MUNGE_KEY)) return `Slurm tests need munge's key ${MUNGE_KEY} (made by the munge package's install)`;
  if (process.getuid?.() !== 0) return "Slurm tests run slurmd, which needs root";
  if (spawnSync("id", ["-u", "munge"]).status !== 0) return "Slurm tests need the munge user (made by the munge package's install)";
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function idOf(flag: "-u" | "-g", user: string): number {
  return Number(spawnSync("id", [flag, user], { encoding: "utf8" }).stdout.trim());
}

async function stopPid(pid: number | null, ms = 10_000): Promise<void> {
  if (pid === null || !alive(pid)) return;
  process.kill(pid, "SIGTERM");
  for (let t = 0; t < ms && alive(pid); t += 100) await sleep(100);
  if (alive(pid)) process.kill(pid, "SIGKILL");
}

function tail(file: string): string {
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").slice(-15).join("\n") : "(no log)";
}

export async function startSlurmCluster(): Promise<SlurmCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "diffx-slurm-"));
  fs.chmodSync(dir, 0o755);
  for (const d of ["state", "spool", "log"]) fs.mkdirSync(path.join(dir, d));
  // munged refuses a socket folder others may write, and runs as the munge user
  const mungeDir = path.join(dir, "munge");
  fs.mkdirSync(mungeDir);
  fs.chownSync(mungeDir, idOf("-u", "munge"), idOf("-g", "munge"));
  fs.chmodSync(mungeDir, 0o711);
  const socket = path.join(mungeDir, "munge.sock");
  const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
  const memMiB = Math.floor(os.totalmem() / 1024 / 1024 / 2);
  const conf = path.join(dir, "slurm.conf");
  fs.writeFileSync(
    conf,
    [
      "ClusterName=diffxtest",
      "SlurmctldHost=localhost(127.0.0.1)",
      "SlurmUser=root",
      "SlurmdUser=root",
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      "AuthType=auth/munge",
      // cred_expire (default 120 s) is also how long a requeued job waits before it may start again
      `AuthInfo=socket=${socket},cred_expire=10`,
      "CredType=cred/munge",
      `StateSaveLocation=${dir}/state`,
      `SlurmdSpoolDir=${dir}/spool`,
      `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmdPidFile=${dir}/slurmd.pid`,
      `SlurmctldLogFile=${dir}/log/slurmctld.log`,
      `SlurmdLogFile=${dir}/log/slurmd.log`,
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_Core",
      "JobAcctGatherType=jobacct_gather/none",
      "AccountingStorageType=accounting_storage/none",
      "MpiDefault=none",
      "ReturnToService=2",
      "SchedulerType=sched/backfill",
      // a test waits for dependencies and requeues: look at the queue every second, not every minute
      "SchedulerParameters=sched_interval=1,bf_interval=1",
      "MinJobAge=600", // squeue keeps an ended job's state (cancelled, failed) for 10 minutes
      "KillWait=30", // a job stopped by scancel or a requeue has 30 s to save a checkpoint, as on a real cluster
      `NodeName=localhost NodeAddr=127.0.0.1 CPUs=${os.availableParallelism()} RealMemory=${memMiB} State=UNKNOWN`,
      "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
      "",
    ].join("\n"),
  );
  const env = { SLURM_CONF: conf };
  const children: ChildProcess[] = [];
  const mungePidFile = path.join(mungeDir, "munged.pid");
  const mungePid = (): number | null => (fs.existsSync(mungePidFile) ? Number(fs.readFileSync(mungePidFile, "utf8").trim()) || null : null);
  const daemon = (cmd: string, args: string[], log: string): ChildProcess => {
    const out = fs.openSync(path.join(dir, "log", log), "a");
    const child = spawn(cmd, args, { stdio: ["ignore", out, out], env: { ...process.env, ...env } });
    fs.closeSync(out);
    children.push(child);
    return child;
  };
  const killAllNow = (): void => {
    for (const c of children) if (c.pid && alive(c.pid)) process.kill(c.pid, "SIGKILL");
    const m = mungePid();
    if (m && alive(m)) process.kill(m, "SIGKILL");
  };
  process.on("exit", killAllNow); // a test process that dies leaves no daemon behind

  let mungeRunner: ChildProcess | null = null;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // end the jobs first (their processes belong to slurmd's job steps), then the daemons
    spawnSync("scancel", ["--me"], { env: { ...process.env, ...env }, timeout: 20_000 });
    for (let t = 0; t < 15_000; t += 250) {
      const q = spawnSync("squeue", ["--noheader", "--me"], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 10_000 });
      if (q.status !== 0 || q.stdout.trim() === "") break;
      await sleep(250);
    }
    // slurmd, slurmctld, then munged by its pid file, and last runuser, which forked munged and
    // reaps it (runuser first would leave munged to be reaped by pid 1, which may not)
    for (const c of [...children].reverse()) if (c !== mungeRunner) await stopPid(c.pid ?? null);
    await stopPid(mungePid());
    await stopPid(mungeRunner?.pid ?? null);
    process.off("exit", killAllNow);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    mungeRunner = daemon("runuser", ["-u", "munge", "--", "munged", "-F", `--socket=${socket}`, `--pid-file=${mungePidFile}`, `--log-file=${path.join(mungeDir, "munged.log")}`, `--seed-file=${path.join(mungeDir, "munged.seed")}`], "munged.out");
    for (let t = 0; !fs.existsSync(socket); t += 100) {
      if (t > 10_000) throw new Error(`munged did not start:\n${tail(path.join(dir, "log", "munged.out"))}`);
      await sleep(100);
    }
    daemon("slurmctld", ["-D", "-i", "-f", conf], "slurmctld.out");
    daemon("slurmd", ["-D", "-N", "localhost", "-f", conf], "slurmd.out");
    for (let t = 0; ; t += 250) {
      const r = spawnSync("sinfo", ["--noheader", "--format=%T"], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 10_000 });
      if (r.status === 0 && r.stdout.trim() === "idle") break;
      if (t > 30_000) throw new Error(`the Slurm node did not become idle (sinfo: ${r.stdout.trim() || r.stderr.trim()}):\n${tail(path.join(dir, "log", "slurmctld.log"))}\n${tail(path.join(dir, "log", "slurmd.log"))}`);
      await sleep(250);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { dir, env, stop };
}
