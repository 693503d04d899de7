import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { encodeNpy, writeNpy } from "../../src/eval/npy.js";
import { parseNpy } from "../../src/metrics/feature-files.js";
import { tempDir } from "../helpers/cli.js";

const rows = [Float64Array.from([1.5, -2, 1e-300]), Float64Array.from([Math.PI, 0, -7.25e12])];

test("encodeNpy: version 1.0 float64 C-order n × d with a 64-byte aligned header; diffx's .npy reader reads it back exactly", () => {
  const bytes = encodeNpy(rows);
  assert.deepEqual([...bytes.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const headerLen = bytes[8] | (bytes[9] << 8);
  assert.equal((10 + headerLen) % 64, 0);
  assert.equal(bytes.length, 10 + headerLen + 6 * 8);
  const header = Buffer.from(bytes.subarray(10, 10 + headerLen)).toString("latin1");
  assert.match(header, /^\{'descr': '<f8', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/);
  assert.deepEqual(parseNpy(bytes, "x.npy"), rows);
});

test("numpy reads the file (when /usr/bin/python3 has numpy)", (t) => {
  const probe = spawnSync("/usr/bin/python3", ["-c", "import numpy"], { encoding: "utf8" });
  if (probe.status !== 0) return t.skip("no numpy at /usr/bin/python3");
  const file = path.join(tempDir("diffx-npy-"), "f.npy");
  writeNpy(file, rows);
  assert.ok(fs.existsSync(file));
  const r = spawnSync("/usr/bin/python3", ["-c", "import numpy, sys, json; a = numpy.load(sys.argv[1]); print(json.dumps([list(a.shape), str(a.dtype), a.tolist()]))", file], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const [shape, dtype, values] = JSON.parse(r.stdout) as [number[], string, number[][]];
  assert.deepEqual(shape, [2, 3]);
  assert.equal(dtype, "float64");
  assert.deepEqual(values, rows.map((r) => [...r]));
});
