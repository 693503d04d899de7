import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { ROOT } from "../helpers/cli.js";

/** The environment of a user's shell: none of the npm_* variables `npm test` passes down. */
function shellEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("npm_") && !/^ONNXRUNTIME_NODE_INSTALL/.test(k)));
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(cmd, args, { cwd: ROOT, env, encoding: "utf8", timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

test("npx diffx prints diffx's output only: no npm warning about the project's config", () => {
  const r = run("npx", ["diffx", "--version"], shellEnv());
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
});

test("every installed dependency with an install script is decided in package.json's allowScripts", () => {
  // npm's own listing of what `npm install` would warn about as "not yet covered by allowScripts".
  const r = run("npm", ["install-scripts", "ls", "--json"], shellEnv());
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { allowScripts: [] });
});

const HOOK = path.join(ROOT, "bin", "install-onnxruntime-cuda-if-asked.js");

test("postinstall: without ONNXRUNTIME_NODE_INSTALL (or with =skip) it does nothing and prints nothing", () => {
  for (const extra of [{}, { ONNXRUNTIME_NODE_INSTALL: "skip" }] as Record<string, string>[]) {
    const r = run(process.execPath, [HOOK], shellEnv(extra));
    assert.deepEqual(r, { code: 0, stdout: "", stderr: "" }, JSON.stringify(extra));
  }
});

test("postinstall: ONNXRUNTIME_NODE_INSTALL hands over to onnxruntime-node's own install script", () => {
  // onnxruntime-node 1.30 refuses CUDA 11 before any download: its message proves its script ran.
  const v11 = run(process.execPath, [HOOK], shellEnv({ ONNXRUNTIME_NODE_INSTALL_CUDA: "v11" }));
  assert.notEqual(v11.code, 0);
  assert.match(v11.stderr, /CUDA 11 is no longer supported/);
  assert.match(v11.stderr, /diffx: onnxruntime-node's CUDA install \(asked for by ONNXRUNTIME_NODE_INSTALL_CUDA\) failed/);
  // cuda12 with the variables npm sets for diffx's own postinstall: the script must not mistake
  // itself for onnxruntime's own checkout (which it skips) but try the download, here through a
  // proxy that refuses the connection so nothing leaves the machine.
  const cuda = run(process.execPath, [HOOK], shellEnv({
    ONNXRUNTIME_NODE_INSTALL: "cuda12",
    GLOBAL_AGENT_HTTPS_PROXY: "http://127.0.0.1:9",
    npm_config_local_prefix: ROOT,
    npm_package_json: path.join(ROOT, "package.json"),
  }));
  assert.notEqual(cuda.code, 0);
  assert.match(cuda.stderr, /ECONNREFUSED 127\.0\.0\.1:9/);
  assert.match(cuda.stderr, /asked for by ONNXRUNTIME_NODE_INSTALL\)/);
});
