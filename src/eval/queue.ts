/**
 * A bounded job queue: run `work(job, slot)` for every job with at most `limit` running at once,
 * starting jobs in order. When a job fails, no new job starts, the shared abort signal fires
 * (so running jobs can stop early), the queue waits for the running ones, and the first error is
 * thrown. When `signal` aborts, no new job starts either.
 */
export async function runQueue<J>(jobs: readonly J[], limit: number, work: (job: J, slot: number, signal: AbortSignal) => Promise<void>, signal?: AbortSignal): Promise<void> {
  const stop = new AbortController();
  const onOuterAbort = (): void => stop.abort();
  signal?.addEventListener("abort", onOuterAbort);
  if (signal?.aborted) stop.abort();
  let next = 0;
  let firstError: unknown = null;
  const lane = async (slot: number): Promise<void> => {
    while (!stop.signal.aborted && next < jobs.length) {
      const job = jobs[next++];
      try {
        await work(job, slot, stop.signal);
      } catch (err) {
        if (firstError === null) firstError = err;
        stop.abort();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, jobs.length)) }, (_, slot) => lane(slot)));
  } finally {
    signal?.removeEventListener("abort", onOuterAbort);
  }
  if (firstError !== null) throw firstError;
}
