/**
 * Which launcher an invocation uses, and with which settings: `--launcher` when given; else an
 * eval being resumed that was submitted to Slurm stays on Slurm; else the config's `launcher`
 * section (the config given on the command line, or the run's recorded one when resuming).
 * The launcher is not part of what a run computes: the local and the Slurm launcher write the
 * same numbers, so an eval may move between them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { loadConfig } from "../../config/load.js";
import { launcherSchema, type LauncherConfig } from "../../config/schema.js";
import { RUN_FILES } from "../../runs/folder.js";
import { readSubmissions } from "./slurm-record.js";

export type LauncherKind = LauncherConfig["kind"];

/**
 * The `launcher` section of a config file (with --set applied), or the defaults when there is no
 * file to read (the command itself then reports the missing or bad config).
 */
function sectionOf(file: string | undefined, sets: string[]): LauncherConfig {
  if (!file || !fs.existsSync(file)) return launcherSchema.parse({});
  return loadConfig(file, sets).config.launcher ?? launcherSchema.parse({});
}

/** The launcher of `diffx eval CONFIG` / `diffx eval --resume EVALRUN`. */
export function evalLauncher(o: { launcher?: LauncherKind; configFile?: string; sets?: string[]; resume?: string }): LauncherConfig {
  const resumed = o.resume && !o.configFile ? path.resolve(o.resume) : null;
  const settings = resumed ? sectionOf(path.join(resumed, RUN_FILES.config), []) : sectionOf(o.configFile, o.sets ?? []);
  if (o.launcher) return { ...settings, kind: o.launcher };
  if (resumed && readSubmissions(path.join(resumed, RUN_FILES.eval)).length > 0) return { ...settings, kind: "slurm" };
  return settings;
}

/** The launcher of `diffx train CONFIG` / `diffx train --resume RUN`. */
export function trainLauncher(o: { launcher?: LauncherKind; configFile?: string; sets?: string[]; resume?: string }): LauncherConfig {
  const settings = o.resume ? sectionOf(path.join(path.resolve(o.resume), RUN_FILES.config), []) : sectionOf(o.configFile, o.sets ?? []);
  return o.launcher ? { ...settings, kind: o.launcher } : settings;
}
