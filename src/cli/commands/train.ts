import type { Command } from "commander";
import { notBuilt } from "../not-built.js";

export function registerTrain(program: Command): void {
  program.command("train [config]").description("train a conditional diffusion model").option("--set <key=value>", "override a config key (repeatable)", (v: string, prev: string[]) => [...prev, v], [] as string[]).option("--run-dir <dir>", "run folder").option("--resume <run>", "continue an interrupted run").option("--devices <devices>", "N, auto, or a GPU list like 0,3,5").action(notBuilt("train"));
}
