/** The engines `diffx sample` can run the network on (kept apart so the CLI can list them without loading them). */
export type EngineName = "tfjs" | "onnx";
export const ENGINE_NAMES: readonly EngineName[] = ["tfjs", "onnx"];
