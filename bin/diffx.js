#!/usr/bin/env node
// Starts the compiled CLI (npm install builds dist/ through the `prepare` script).
import { main } from "../dist/cli/main.js";

main(process.argv).then((code) => {
  process.exitCode = code;
});
