/**
 * Which training timesteps a few-step sampler visits.
 *
 * We use diffusers' "trailing" spacing (Lin et al. 2024, "Common Diffusion Noise Schedules and
 * Sample Steps are Flawed", §3.3): t_k = round(T − k·T/S) − 1 for k = 0 … S − 1.
 * It always starts at the noisiest timestep T − 1, which the initial N(0, I) noise matches;
 * "leading" spacing starts below T − 1 and so samples from a mismatched noise level when S is
 * small. Rounding is half-to-even, as numpy's.
 *
 * The list equals diffusers' for the (T, S) the tests check (test/fixtures/diffusion), but not for
 * every (T, S): diffusers computes np.arange(T, 0, −T/S), whose elements and length come from
 * numpy's floating-point arange. Checked with numpy 1.24 for T = 1000: for 49 values of S
 * (S = 48, 96, 112, …) a value on a .5 boundary rounds the other way, and for 62 values
 * (S = 61, 103, 121, …) arange returns S + 1 elements ending in timestep −1, which diffusers then
 * uses. Here t_k is computed as T + k·(−T/S) for exactly S values of k.
 */
import { UsageError } from "../../errors.js";

/** Round half to even (numpy.round). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** S trailing timesteps of a T-step schedule, descending (see above). */
export function trailingTimesteps(T: number, steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > T) {
    throw new UsageError(`sample.steps must be an integer from 1 to diffusion.timesteps (${T}), got ${String(steps)}`);
  }
  const ratio = T / steps;
  const out: number[] = [];
  // numpy.arange(T, 0, −ratio) computes T + k·(−ratio).
  for (let k = 0; k < steps; k++) out.push(roundHalfEven(T + k * -ratio) - 1);
  return out;
}
