#!/usr/bin/env node
// Starts the compiled CLI (npm install builds dist/ through the `prepare` script).
// Exits explicitly: tensor-engine worker threads would otherwise keep the process alive.
import { main } from "../dist/cli/main.js";

main(process.argv).then((code) => {
  process.exit(code);
});
