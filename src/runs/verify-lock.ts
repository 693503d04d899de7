/**
 * The run lock's library part: which versions of the libraries behind a run's numbers and files
 * produced it (recorded in manifest.backend.libraries by `diffx train`).
 */
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";

/**
 * Versions of the libraries behind a run's outputs: tfjs-core and the backend's package
 * (`backendPackage@version`), libtensorflow when the tensorflow backend is active, Node's zlib
 * (PNG bytes, written with pngjs) and libvips/librsvg (plots/loss.png, rendered by sharp).
 */
export function libraryVersions(backendName: string, backendPackage: string, backendVersion: string): Record<string, string> {
  const out: Record<string, string> = {};
  out["@tensorflow/tfjs-core"] = tf.version["tfjs-core"];
  out[backendPackage] = backendVersion;
  if (backendName === "tensorflow") {
    const binding: unknown = (tf.backend() as unknown as { binding?: unknown }).binding;
    const v = typeof binding === "object" && binding !== null ? (binding as { TF_Version?: unknown }).TF_Version : undefined;
    if (typeof v === "string") out["libtensorflow"] = v;
  }
  out["zlib"] = process.versions.zlib ?? "unknown";
  out["sharp"] = sharp.versions.sharp ?? "unknown";
  out["libvips"] = sharp.versions.vips;
  if (sharp.versions.rsvg) out["librsvg"] = sharp.versions.rsvg;
  return out;
}
