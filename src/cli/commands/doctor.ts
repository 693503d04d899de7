import type { Command } from "commander";
import { notBuilt } from "../not-built.js";

export function registerDoctor(program: Command): void {
  program.command("doctor").description("report backends, devices and engines available here").action(notBuilt("doctor"));
}
