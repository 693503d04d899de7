/**
 * The example GitHub Actions workflow (.github/workflows/reproduce.yml) is known to work: its
 * `run:` steps are read from the YAML and executed in order (minus `npm ci`, which the test
 * environment has already done) in an empty temporary folder, with `npx diffx` replaced by this
 * checkout's bin/diffx.js and configs/ linked in (nothing is copied). Every step must exit 0,
 * and every path the upload step names must exist afterwards.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { BIN, ROOT, tempDir } from "../helpers/cli.js";

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  if?: string;
}

interface Workflow {
  on: unknown;
  jobs: Record<string, { "runs-on": string; steps: Step[] }>;
}

const WORKFLOW = path.join(ROOT, ".github", "workflows", "reproduce.yml");

function readWorkflow(): Step[] {
  const wf = parse(fs.readFileSync(WORKFLOW, "utf8")) as Workflow;
  const jobs = Object.values(wf.jobs);
  assert.equal(jobs.length, 1, "one job");
  return jobs[0].steps;
}

test("the workflow checks out, sets up Node 20, installs with npm ci and uploads the run as an artifact", () => {
  const steps = readWorkflow();
  const uses = steps.map((s) => s.uses ?? "");
  assert.ok(uses.some((u) => u.startsWith("actions/checkout@")), "checkout");
  const node = steps.find((s) => s.uses?.startsWith("actions/setup-node@"));
  assert.ok(node, "setup-node");
  assert.equal(String(node.with?.["node-version"]), "20");
  const runs = steps.filter((s) => s.run).map((s) => (s.run as string).trim());
  assert.equal(runs[0], "npm ci", "installs first");
  assert.ok(runs.some((r) => /^npx diffx verify runs\/ci --stage all$/.test(r)), "verifies the run");
  const upload = steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"));
  assert.ok(upload, "uploads an artifact");
  assert.equal(upload.if, "always()", "uploads even when verify fails");
  assert.match(String(upload.with?.path), /runs\/ci\/manifest\.json/);
});

test("the workflow's run steps succeed when executed as written", () => {
  const steps = readWorkflow();
  const cwd = tempDir("diffx-workflow-");
  fs.symlinkSync(path.join(ROOT, "configs"), path.join(cwd, "configs")); // as in a checkout, without copying
  const commands = steps.filter((s) => s.run && s.run.trim() !== "npm ci");
  assert.ok(commands.length >= 3, "data build, train and verify steps");
  for (const step of commands) {
    const script = (step.run as string).replace(/\bnpx diffx\b/g, `"${process.execPath}" "${BIN}"`);
    const r = spawnSync("bash", ["-eo", "pipefail", "-c", script], { cwd, env: { ...process.env, ...step.env }, encoding: "utf8", timeout: 600_000 });
    assert.equal(r.status, 0, `step '${step.name ?? step.run}' failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    if (/diffx verify/.test(step.run as string)) assert.match(r.stdout, /^OK: /m, "verify reports that everything matches");
  }
  const upload = steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"));
  const paths = String(upload?.with?.path ?? "")
    .split("\n")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  for (const p of paths) assert.ok(fs.existsSync(path.join(cwd, p)), `${p} (uploaded as the artifact) exists after the steps`);
});
