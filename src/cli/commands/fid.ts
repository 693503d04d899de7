import type { Command } from "commander";
import { notBuilt } from "../not-built.js";

export function registerFid(program: Command): void {
  program.command("fid <a> <b>").description("FID and KID between two image folders or feature files").option("--features <extractor>", "domain | onnx:PATH").action(notBuilt("fid"));
}
