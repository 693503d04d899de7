/**
 * Terminal output: the only module (with main.ts) that writes to stdout/stderr.
 * A Reporter implements the library's ProgressSink: a cli-progress bar on a TTY, plain
 * periodic lines otherwise, nothing with --quiet (warnings still go to stderr), and with
 * --json all human text goes to stderr so stdout stays machine-readable.
 */
import cliProgress from "cli-progress";
import type { ProgressSink } from "../engine/progress.js";
import type { GlobalOptions } from "./context.js";

export class Reporter implements ProgressSink {
  private bar: cliProgress.SingleBar | null = null;
  private label = "";
  private total = 0;
  private lastLine = 0;
  private startedAt = 0;

  constructor(private readonly opts: GlobalOptions) {}

  private get human(): NodeJS.WriteStream {
    return this.opts.json ? process.stderr : process.stdout;
  }

  start(label: string, total: number): void {
    this.stop();
    this.label = label;
    this.total = total;
    this.startedAt = Date.now();
    this.lastLine = 0;
    if (this.opts.quiet) return;
    if (this.human.isTTY) {
      this.bar = new cliProgress.SingleBar(
        { format: `${label} [{bar}] {value}/{total} | {rate} it/s | ETA {eta_formatted} {extra}`, hideCursor: true, stream: this.human, etaBuffer: 20 },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { rate: "-", extra: "" });
    }
  }

  update(done: number, fields: Record<string, string | number> = {}): void {
    if (this.opts.quiet) return;
    const secs = (Date.now() - this.startedAt) / 1000;
    const rate = secs > 0 ? (done / secs).toFixed(2) : "-";
    const extra = Object.entries(fields)
      .map(([k, v]) => `${k} ${typeof v === "number" ? formatNumber(v) : v}`)
      .join(" ");
    if (this.bar) {
      this.bar.update(done, { rate, extra });
      return;
    }
    const now = Date.now();
    if (done === this.total || now - this.lastLine >= 5000 || this.lastLine === 0) {
      this.lastLine = now;
      this.human.write(`${this.label}: ${done}/${this.total} (${rate} it/s) ${extra}\n`);
    }
  }

  stop(): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
    }
  }

  info(message: string): void {
    if (this.opts.quiet) return;
    this.stop();
    this.human.write(message + "\n");
  }

  warn(message: string): void {
    process.stderr.write(`warning: ${message}\n`);
  }

  /** Final result: JSON on stdout with --json, otherwise the human text. */
  result(human: string, json: unknown): void {
    if (this.opts.json) process.stdout.write(JSON.stringify(json, null, 2) + "\n");
    else if (!this.opts.quiet) process.stdout.write(human.endsWith("\n") ? human : human + "\n");
  }
}

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toFixed(4) : v.toExponential(3);
}
