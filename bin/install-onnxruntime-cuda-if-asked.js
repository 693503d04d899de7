// diffx's postinstall: runs onnxruntime-node's own install script (which downloads its CUDA
// provider from NuGet) only when the environment asks for it, e.g.
//   ONNXRUNTIME_NODE_INSTALL=cuda12 npm install
// package.json's allowScripts denies onnxruntime-node's postinstall, so a plain `npm install`
// downloads nothing and prints nothing; this keeps that default without an `.npmrc` key (npm 11
// warns about unknown keys and npm 12 will ignore them). The variables are the ones
// onnxruntime-node's script reads (its script/install-utils.js); it interprets their values.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

const FLAGS = [
  "ONNXRUNTIME_NODE_INSTALL",
  "npm_config_onnxruntime_node_install",
  "ONNXRUNTIME_NODE_INSTALL_CUDA",
  "npm_config_onnxruntime_node_install_cuda",
];

const asked = FLAGS.filter((name) => {
  const value = process.env[name];
  return value !== undefined && value !== "" && value !== "skip";
});

if (asked.length > 0) {
  const packageJson = createRequire(import.meta.url).resolve("onnxruntime-node/package.json");
  const dir = path.dirname(packageJson);
  // Run it as npm runs a dependency's script: from its folder, with npm_package_json naming its
  // package.json (the script skips itself when it thinks it is onnxruntime's own checkout).
  const result = spawnSync(process.execPath, [path.join(dir, "script", "install.js")], {
    cwd: dir,
    stdio: "inherit",
    env: { ...process.env, npm_package_json: packageJson },
  });
  if (result.status !== 0) {
    console.error(`diffx: onnxruntime-node's CUDA install (asked for by ${asked.join(", ")}) failed; unset it for a CPU-only install`);
    process.exit(result.status ?? 1);
  }
}
