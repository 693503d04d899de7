import { test } from "node:test";
import assert from "node:assert/strict";
import { runQueue } from "../../src/eval/queue.js";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("at most `limit` jobs run at once, all run, each on a slot below the limit", async () => {
  let running = 0, peak = 0;
  const done: number[] = [];
  await runQueue([0, 1, 2, 3, 4, 5, 6], 3, async (j, slot) => {
    assert.ok(slot >= 0 && slot < 3);
    running++;
    peak = Math.max(peak, running);
    await tick(5 + (j % 3) * 3);
    running--;
    done.push(j);
  });
  assert.equal(peak, 3);
  assert.deepEqual(done.sort(), [0, 1, 2, 3, 4, 5, 6]);
});

test("limit 1 runs jobs one after another in order", async () => {
  const order: string[] = [];
  await runQueue(["a", "b", "c"], 1, async (j) => {
    order.push(`start ${j}`);
    await tick(2);
    order.push(`end ${j}`);
  });
  assert.deepEqual(order, ["start a", "end a", "start b", "end b", "start c", "end c"]);
});

test("a failing job stops new jobs, signals the running ones, and its error is thrown", async () => {
  const started: number[] = [];
  let sawAbort = false;
  await assert.rejects(
    runQueue([0, 1, 2, 3, 4], 2, async (j, _slot, signal) => {
      started.push(j);
      if (j === 0) {
        await tick(2);
        throw new Error("job 0 failed");
      }
      await tick(20);
      if (signal.aborted) sawAbort = true;
    }),
    /job 0 failed/,
  );
  assert.deepEqual(started, [0, 1]);
  assert.ok(sawAbort);
});

test("an aborted outer signal starts no further jobs", async () => {
  const ctrl = new AbortController();
  const started: number[] = [];
  await runQueue([0, 1, 2], 1, async (j) => {
    started.push(j);
    if (j === 0) ctrl.abort();
  }, ctrl.signal);
  assert.deepEqual(started, [0]);
});
