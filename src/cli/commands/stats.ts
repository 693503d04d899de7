import type { Command } from "commander";
import { notBuilt } from "../not-built.js";

export function registerStats(program: Command): void {
  program.command("stats <table>").description("fold statistics, ANOVA, Friedman and post-hoc tests for a fold,variant,value table").action(notBuilt("stats"));
}
