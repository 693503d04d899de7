/**
 * `diffx export RUN`: the newest checkpoint as model.onnx + model.json (see
 * src/sample/export-run.ts). Exit 2 for a missing/foreign run folder, 1 for a run without a
 * checkpoint yet.
 */
import type { Command } from "commander";

import { globalOptions } from "../context.js";
import { Reporter } from "../output.js";

interface ExportOpts {
  out?: string;
  ema?: boolean;
  merge?: boolean;
}

export function registerExport(program: Command): void {
  program
    .command("export <run>")
    .description("export the trained network to ONNX (model.onnx + model.json sidecar; default RUN/export/)")
    .option("--out <file>", "output .onnx file, or a folder for model.onnx (default RUN/export/model.onnx)")
    .option("--ema", "export the EMA weights (default: as the run samples, sample.ema)")
    .option("--no-ema", "export the raw (non-EMA) weights")
    .option("--merge", "a LoRA run: fold the adapter into the base, W + (α/r)·B·A, and write a plain model")
    .action(async (run: string, opts: ExportOpts, cmd: Command) => {
      // loaded here, not at start-up: they pull in tfjs and the ONNX protobuf bindings
      const { ONNX_IR_VERSION, ONNX_OPSET } = await import("../../nn/onnx-graph.js");
      const { exportRun } = await import("../../sample/export-run.js");
      const g = globalOptions(cmd);
      const rep = new Reporter(g);
      const r = exportRun({ run, out: opts.out, ema: opts.ema, merge: opts.merge });
      if (!r.runManifest.recorded && r.file.startsWith(r.runDir)) rep.warn(`the run manifest was not updated: ${r.runManifest.reason}`);
      const human = [
        `${r.replaced ? "replaced" : "wrote"} ${r.file} (${formatBytes(r.bytes)}, ${r.parameterCount} parameters, ${r.nodeCount} nodes, ONNX IR ${ONNX_IR_VERSION} / opset ${ONNX_OPSET})`,
        `sidecar: ${r.sidecarFile}`,
        `weights: ${r.ema ? "EMA" : "raw"}, checkpoint step ${r.step}${r.sidecar.source.lora ? `, LoRA adapter ${r.sidecar.source.lora}` : ""}`,
      ].join("\n");
      rep.result(human, {
        file: r.file,
        sidecar: r.sidecarFile,
        bytes: r.bytes,
        sha256: r.sha256,
        parameters: r.parameterCount,
        nodes: r.nodeCount,
        ops: r.opCounts,
        step: r.step,
        ema: r.ema,
        replaced: r.replaced,
        lora: r.sidecar.source.lora ?? null,
        run_manifest_updated: r.runManifest.recorded,
      });
    });
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}
