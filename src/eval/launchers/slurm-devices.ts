/**
 * How many GPUs a training asks Slurm for when `launcher.gres` is auto. On a cluster Slurm picks
 * the GPUs (and sets CUDA_VISIBLE_DEVICES for the job), so a training states a count; "auto"
 * (all visible GPUs) and an id list like 0,3,5 describe one machine and cannot be asked for.
 */
import { UsageError } from "../../errors.js";

export function slurmGpuCount(devices: "auto" | number | string, where: string): number {
  if (typeof devices === "number") return devices;
  if (/^\d+$/.test(devices)) return Number(devices);
  const advice = "under Slurm give a GPU count (e.g. --devices 8), or set launcher.gres (e.g. gpu:a100:8, or none on a cluster without GPUs)";
  if (devices === "auto") throw new UsageError(`${where} auto means every GPU of this machine; ${advice}`);
  throw new UsageError(`${where} ${devices}: a GPU id list picks GPUs of one machine; ${advice}`);
}
