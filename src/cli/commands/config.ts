import type { Command } from "commander";
import { notBuilt } from "../not-built.js";

export function registerConfig(program: Command): void {
  const c = program.command("config").description("inspect experiment configs");
  c.command("show <config>").description("print the resolved config and its hash").action(notBuilt("config show"));
}
