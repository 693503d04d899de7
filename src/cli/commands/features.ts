import type { Command } from "commander";
import { notBuilt } from "../not-built.js";

export function registerFeatures(program: Command): void {
  const f = program.command("features").description("the domain feature extractor used for FID/KID");
  f.command("train").description("retrain the domain feature extractor from its procedural reference set").action(notBuilt("features train"));
}
