/**
 * `metrics.jsonl`: one JSON object per logged step. Lines are appended and flushed as training
 * goes; on resume the file is first rewritten (atomically) to the lines up to the checkpoint's
 * step, so a resumed run's log equals an uninterrupted one's and a torn last line is dropped.
 */
import * as fs from "node:fs";
import { writeFileAtomic } from "../engine/atomic.js";
import { RuntimeFailure } from "../errors.js";

export interface MetricsRecord {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  steps_per_s: number;
  /** The VLB/KL term L_t in bits/dim on the fixed batch (every eval_every steps). */
  kl_bpd?: number;
  /** The perceptual loss on the same batch (perceptual.ts; every eval_every steps). */
  perceptual?: number;
}

/** Fields that depend on wall-clock time and so are left out of reproducibility hashes. */
export const TIMING_FIELDS = ["steps_per_s"] as const;

export class MetricsLog {
  private fd: number;

  constructor(private readonly file: string, keepUpToStep: number) {
    const kept: string[] = [];
    if (fs.existsSync(file)) {
      for (const line of fs.readFileSync(file, "utf8").split("\n")) {
        if (!line.trim()) continue;
        try {
          const rec = JSON.parse(line) as MetricsRecord;
          if (rec.step <= keepUpToStep) kept.push(line);
        } catch {
          /* a torn line from a crash: dropped */
        }
      }
    }
    writeFileAtomic(file, kept.map((l) => l + "\n").join(""));
    try {
      this.fd = fs.openSync(file, "a");
    } catch (err) {
      throw new RuntimeFailure(`cannot open ${file} (${(err as Error).message})`);
    }
  }

  append(rec: MetricsRecord): void {
    try {
      fs.writeSync(this.fd, JSON.stringify(rec) + "\n");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new RuntimeFailure(code === "ENOSPC" ? `disk full while writing ${this.file}` : `cannot write ${this.file} (${(err as Error).message})`);
    }
  }

  close(): void {
    try {
      fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
    } catch {
      /* already closed */
    }
  }
}
