/** Typed access to test/fixtures/diffusion/schedules.json (made by make_schedules.py). */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "diffusion", "schedules.json");

export interface ScheduleFixture {
  kind: "linear" | "cosine";
  T: number;
  index: number[];
  values: Record<string, number[]>;
}

export interface StepCase {
  sampler: "ddpm" | "ddim";
  eta?: number;
  prediction: "eps" | "v";
  i: number;
  expected: number[];
}

export interface Fixture {
  schedules: ScheduleFixture[];
  trailing: { T: number; steps: number; timesteps: number[] }[];
  samplerSteps: {
    T: number;
    schedule: "cosine";
    steps: number;
    timesteps: number[];
    batch: number;
    dim: number;
    x: number[];
    outs: number[][];
    noises: number[][];
    cases: StepCase[];
    dpmpp: Record<"eps" | "v", number[][]>;
  };
  vlb: {
    cases: {
      schedule: "linear" | "cosine";
      T: number;
      prediction: "eps" | "v";
      t: number[];
      dim: number;
      x0: number[];
      xt: number[];
      modelOut: number[];
      bpd: number[];
      prior: number[];
    }[];
  };
  objective: {
    schedule: "cosine";
    T: number;
    t: number[];
    dim: number;
    x0: number[];
    eps: number[];
    predicted: number[];
    cases: { prediction: "eps" | "v"; gamma: number; weights: number[]; loss: number }[];
  };
}

export const fixture: Fixture = JSON.parse(fs.readFileSync(FILE, "utf8")) as Fixture;

/** Assert |a − e| ≤ atol + rtol·|e| element-wise, naming the first failing index. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} ≠ ${expected.length}`);
  for (let k = 0; k < expected.length; k++) {
    const a = actual[k];
    const e = expected[k];
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      throw new Error(`${what}[${k}]: got ${a}, expected ${e} (rtol ${rtol}, atol ${atol})`);
    }
  }
}
