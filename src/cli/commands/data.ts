import type { Command } from "commander";
import { notBuilt } from "../not-built.js";

export function registerData(program: Command): void {
  const data = program.command("data").description("build, import, inspect and verify paired datasets");
  data.command("build <config>").description("generate the dataset named by the config").option("--out <dir>", "output folder").option("--force", "overwrite a different existing dataset").action(notBuilt("data build"));
  data.command("import").description("import a folder of your own pairs").requiredOption("--kind <kind>", "art | sketch2render").requiredOption("--from <dir>", "source folder").option("--out <dir>", "output folder").action(notBuilt("data import"));
  data.command("show <dir>").description("summarise a dataset and write its contact sheet").action(notBuilt("data show"));
  data.command("verify <dir>").description("check every file against the dataset manifest").action(notBuilt("data verify"));
}
