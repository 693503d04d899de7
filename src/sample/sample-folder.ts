/** The file names of a folder written by `diffx sample`, for readers that must not load the sampler (e.g. `diffx fid`). */
export const SAMPLES_FILE = "samples.jsonl";
export const GRID_FILE = "grid.png";
