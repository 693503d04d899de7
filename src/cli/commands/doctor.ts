/** `diffx doctor`: what this machine can run — backends, devices, onnxruntime and its CUDA provider, CPU and memory. */
import type { Command } from "commander";
import * as os from "node:os";
import { listGpus, resolveDevices } from "../../train/parallel/devices.js";
import { checkCuda, chooseDevice, tf32State } from "../../export/cuda-provider.js";
import { DIFFX_VERSION } from "../../runs/version.js";
import { globalOptions } from "../context.js";
import { Reporter } from "../output.js";

async function onnxRuntimeInfo(): Promise<{ usable: boolean; version?: string; providers?: string[]; reason?: string }> {
  try {
    const ort = await import("onnxruntime-node");
    const providers = ort.listSupportedBackends().map((b) => b.name);
    return { usable: true, version: ort.env.versions.node ?? ort.env.versions.common, providers };
  } catch (err) {
    return { usable: false, reason: (err as Error).message.split("\n")[0] };
  }
}

function describeDetails(d: Record<string, unknown> | undefined): string {
  if (!d) return "usable";
  return Object.entries(d)
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(", ");
}

export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("report which backends, devices and engines work here")
    .action(async (_opts: unknown, cmd: Command) => {
      const rep = new Reporter(globalOptions(cmd));
      const { probeBackends, wasmFeatures } = await import("../../engine/backend.js"); // lazy: loads tfjs
      const backends = await probeBackends();
      const wasm = await wasmFeatures();
      const gpus = listGpus();
      // the CUDA provider: every piece it needs, then (all present) whether it loads
      const cuda = checkCuda();
      const device = chooseDevice("auto", { check: () => cuda });
      let auto: string;
      try {
        const d = resolveDevices("auto", device.provider);
        auto = `${d.workers.length} ${d.kind} worker${d.workers.length === 1 ? "" : "s"} (${d.workers.map((w) => w.device).join(", ")})`;
      } catch (err) {
        auto = `unavailable: ${(err as Error).message}`;
      }
      const ort = await onnxRuntimeInfo();
      const info = {
        diffx: DIFFX_VERSION,
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        cpu: { model: os.cpus()[0]?.model ?? "unknown", cores: os.availableParallelism() },
        memory: { total_gib: +(os.totalmem() / 2 ** 30).toFixed(1), free_gib: +(os.freemem() / 2 ** 30).toFixed(1) },
        backends,
        wasm,
        gpus,
        devices_auto: auto,
        onnxruntime: ort,
        cuda: { pieces: cuda.pieces, versions: cuda.versions, device_auto: device, tf32: tf32State() },
      };
      const lines = [
        `diffx ${info.diffx} on Node ${info.node} (${info.platform})`,
        `CPU: ${info.cpu.model}, ${info.cpu.cores} cores; memory ${info.memory.free_gib} GiB free of ${info.memory.total_gib} GiB`,
        "tfjs backends (auto picks the first usable):",
        ...backends.map((b) => `  ${b.usable ? "✓" : "✗"} ${b.name.padEnd(10)} ${b.usable ? describeDetails(b.details) : b.reason ?? "not usable"}`),
        `wasm: SIMD ${wasm.simd ? "yes" : "no"}, threads ${wasm.threads ? "yes" : "no"}`,
        `CUDA devices: ${gpus.length ? gpus.map((g) => `${g.id}: ${g.name} (${g.memoryMiB} MiB)`).join("; ") : "none (nvidia-smi not found or no GPU)"}`,
        `--devices auto would use: ${auto}`,
        `onnxruntime-node: ${ort.usable ? `${ort.version}, execution providers: ${(ort.providers ?? []).join(", ")}` : `not usable (${ort.reason})`}`,
        "onnxruntime's CUDA provider (engine.device cuda: CUDA 12, cuDNN 9):",
        ...cuda.pieces.map((p) => `  ${p.missing === null ? "✓" : "✗"} ${p.name}${p.missing === null ? `: ${p.found ?? ""}` : `\n      ${p.missing}`}`),
        device.provider === "cuda"
          ? `  ✓ the provider loads (a test model ran on GPU 0); CUDA ${cuda.versions.cuda ?? "?"}, cuDNN ${cuda.versions.cudnn ?? "?"}, driver ${cuda.versions.driver ?? "?"}; TF32 ${tf32State()}`
          : cuda.ready
            ? `  ✗ every piece is present, but ${device.reason.replace(/^auto: CUDA not used: /, "")}`
            : `  engine.device auto would use the CPU: the first missing piece is marked ✗ above`,
        `engine.device auto would use: ${device.provider}`,
      ];
      rep.result(lines.join("\n"), info);
    });
}
