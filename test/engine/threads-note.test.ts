/**
 * engine.threads: auto on a busy machine: wasm runs on one thread, and the run says so in its
 * output (the backend's warning) and its manifest (backend.threads_note). The load average is
 * passed in, so the test does not depend on how busy this machine is; the first wasm start of
 * this process (this file runs in its own process) fixes the thread count for the run after it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { initBackend } from "../../src/engine/backend.js";
import { silentProgress } from "../../src/engine/progress.js";
import type { RunManifest } from "../../src/runs/manifest.js";
import { runTraining } from "../../src/train/run.js";
import { ROOT, tempDir } from "../helpers/cli.js";

const cpus = os.availableParallelism();

test("threads auto under a 1-minute load ≥ the CPUs: one wasm thread, said in the warnings and the run's manifest", { skip: cpus < 2 ? "needs 2 CPUs" : false }, async () => {
  const load = cpus + 0.5;
  const busy = await initBackend("wasm", { threads: "auto", load });
  assert.equal(busy.threads, 1);
  const note = `the machine is busy (1-minute load ${load.toFixed(1)} on ${cpus} CPUs), where more threads only contend; set engine.threads to force a count`;
  assert.equal(busy.threadsNote, note);
  assert.deepEqual(busy.warnings, [`wasm runs on 1 thread: ${note}`]);

  // a training run in the same process reuses that start and records why it has one thread
  const dir = tempDir("diffx-threads-note-");
  const r = await runTraining({
    configFile: path.join(ROOT, "configs", "ci-tiny.yaml"),
    sets: ["engine.threads=auto", "train.steps=2", "train.checkpoint_every=2", "train.eval_every=2"],
    runDir: path.join(dir, "run"),
    cwd: dir,
    finish: false,
    progress: silentProgress,
  });
  assert.equal(r.backend.threadsNote, note);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "run", "manifest.json"), "utf8")) as RunManifest;
  assert.equal(manifest.backend?.threads, 1);
  assert.equal(manifest.backend?.threads_note, note);
});
