import type { Command } from "commander";
import { notBuilt } from "../not-built.js";

export function registerExport(program: Command): void {
  program.command("export <run>").description("export the trained network to ONNX").option("--out <file>", "output .onnx file").option("--ema", "export the EMA weights").action(notBuilt("export"));
}
