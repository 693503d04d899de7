/**
 * Data-parallel building blocks (one process per device): device plans, the worker pool
 * (parent side), the worker context (child side), gradient all-reduce and the parameter digest.
 * See each module for details; the training loop itself lives in src/train.
 */
export { listGpus, parseDevicesSpec, resolveDevices, type DevicePlan, type DevicesSpec, type GpuInfo, type ListGpusOptions, type DeviceProvider, type WorkerDevice } from "./devices.js";
export { AllReduce, DEFAULT_ALGORITHM, PeerFailure, socketPath, type AllReduceAlgorithm, type AllReduceOptions } from "./allreduce.js";
export { describeWorker, startWorkers, type StartWorkersOptions, type WorkerPool } from "./pool.js";
export { runWorker, workerContext, type WorkerContext } from "./worker.js";
export { paramsDigest } from "./digest.js";
export { ENV as WORKER_ENV } from "./protocol.js";
