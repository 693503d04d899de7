import type { Command } from "commander";
import { notBuilt } from "../not-built.js";

export function registerSample(program: Command): void {
  program.command("sample <run>").description("generate images from a trained run").action(notBuilt("sample"));
}
