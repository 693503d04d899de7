/** The diffusion process: schedules, training objective, VLB terms and samplers. */
export * from "./schedule.js";
export * from "./parameterization.js";
export * from "./objective.js";
export * from "./vlb.js";
export * from "./samplers/index.js";
