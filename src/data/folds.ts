/**
 * k-fold splits: a pure function of (dataset hash, k, seed), so every command that asks for
 * the folds of a dataset gets the same ones.
 *
 * - Pair-preserving: pairs sharing a `group` always land in the same fold.
 * - Stratified: groups are dealt stratum by stratum (strata in sorted order, groups shuffled
 *   within a stratum), each to the fold with the fewest pairs so far, ties broken by the
 *   fewest members of the same stratum, then by a seeded fold order. With one pair per group
 *   this makes fold sizes, and each stratum's count per fold, differ by at most 1. With larger
 *   groups sizes are balanced greedily (largest groups first within a stratum).
 */
import { Rng } from "../engine/rng.js";
import { UsageError } from "../errors.js";
import type { PairRecord } from "./dataset.js";

export type FoldPair = Pick<PairRecord, "group" | "attributes">;

/**
 * Split pairs into k folds. Returns, for each fold, the sorted indices (into `pairs`) of the
 * pairs held out in that fold. `stratifyKey` names an attribute (e.g. "style", "category");
 * null or undefined means no stratification.
 */
export function kFold(pairs: readonly FoldPair[], k: number, seed: number, stratifyKey: string | null | undefined, datasetHash: string): number[][] {
  if (!Number.isInteger(k) || k < 2) throw new UsageError(`folds: k must be an integer ≥ 2, got ${k}`);
  const groups = new Map<string, number[]>();
  pairs.forEach((p, i) => {
    const g = groups.get(p.group);
    if (g) g.push(i);
    else groups.set(p.group, [i]);
  });
  if (k > groups.size) throw new UsageError(`folds: k = ${k} is more than the ${groups.size} pair group${groups.size === 1 ? "" : "s"} in the dataset`);

  const strata = new Map<string, string[]>();
  for (const [name, members] of groups) {
    const stratum = stratumOf(members.map((i) => pairs[i]), stratifyKey, members[0]);
    const list = strata.get(stratum);
    if (list) list.push(name);
    else strata.set(stratum, [name]);
  }

  const rng = new Rng(datasetHash, "folds", k, seed);
  const foldOrder = rng.shuffle(Array.from({ length: k }, (_, i) => i));
  const rank = new Array<number>(k);
  foldOrder.forEach((f, r) => (rank[f] = r));
  const sizes = new Array<number>(k).fill(0);
  const folds: number[][] = Array.from({ length: k }, () => []);

  for (const stratum of [...strata.keys()].sort()) {
    const names = (strata.get(stratum) as string[]).sort();
    rng.shuffle(names);
    // stable: largest groups first, shuffled order among equal sizes
    const ordered = names.map((n, i) => ({ n, i, size: (groups.get(n) as number[]).length })).sort((a, b) => b.size - a.size || a.i - b.i);
    const inStratum = new Array<number>(k).fill(0);
    for (const { n, size } of ordered) {
      let best = 0;
      for (let f = 1; f < k; f++) {
        const better = sizes[f] < sizes[best] || (sizes[f] === sizes[best] && (inStratum[f] < inStratum[best] || (inStratum[f] === inStratum[best] && rank[f] < rank[best])));
        if (better) best = f;
      }
      folds[best].push(...(groups.get(n) as number[]));
      sizes[best] += size;
      inStratum[best] += 1;
    }
  }
  return folds.map((f) => f.sort((a, b) => a - b));
}

function stratumOf(members: readonly FoldPair[], key: string | null | undefined, firstIndex: number): string {
  if (key === null || key === undefined || key === "") return "";
  const counts = new Map<string, number>();
  for (const m of members) {
    if (!Object.hasOwn(m.attributes, key)) {
      const known = Object.keys(m.attributes);
      throw new UsageError(`folds: pair ${firstIndex} has no attribute '${key}' to stratify by (${known.length ? `it has: ${known.join(", ")}` : "it has no attributes; set dataset.stratify to none"})`);
    }
    const v = String(m.attributes[key]);
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  // the group's most common value (ties: the smallest)
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))[0][0];
}

/** Indices of the pairs used for training when fold `fold` is held out. */
export function trainIndices(folds: readonly (readonly number[])[], fold: number): number[] {
  if (fold < 0 || fold >= folds.length) throw new RangeError(`fold ${fold} out of range 0..${folds.length - 1}`);
  return folds
    .filter((_, i) => i !== fold)
    .flat()
    .sort((a, b) => a - b);
}

/**
 * The attribute to stratify by: `configured` (dataset.stratify) if given ("none" = no
 * stratification); otherwise style (art) or category (sketch2render) when every pair has it,
 * else none (imported datasets carry no attributes).
 */
export function defaultStratifyKey(kind: string, pairs: readonly FoldPair[], configured?: string): string | null {
  if (configured !== undefined) return configured === "none" || configured === "" ? null : configured;
  const key = kind === "art" ? "style" : kind === "sketch2render" ? "category" : null;
  if (key === null || pairs.length === 0 || !pairs.every((p) => Object.hasOwn(p.attributes, key))) return null;
  return key;
}
