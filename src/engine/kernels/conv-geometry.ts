/**
 * Reads the attributes tfjs passes to the two Conv2D backprop kernels and computes the forward
 * convolution's geometry (output size, the four paddings) exactly as tfjs does, through
 * `backend_util.computeConv2DInfo`, so 'same', 'valid', a number and explicit
 * `[[0,0],[top,bottom],[left,right],[0,0]]` padding all mean what they mean in the forward op.
 */
import * as tf from "@tensorflow/tfjs";

export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
}

type Shape4 = [number, number, number, number];
type PadAttr = "valid" | "same" | number | tf.backend_util.ExplicitPadding;

function asShape4(value: unknown, what: string): Shape4 {
  if (!Array.isArray(value) || value.length !== 4 || !value.every((v) => Number.isInteger(v))) {
    throw new Error(`${what} must be 4 integers, got ${JSON.stringify(value)}`);
  }
  return [value[0], value[1], value[2], value[3]];
}

function asStrides(value: unknown): [number, number] {
  if (typeof value === "number") return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every((v) => Number.isInteger(v))) return [value[0], value[1]];
  throw new Error(`strides must be a number or 2 integers, got ${JSON.stringify(value)}`);
}

function asPad(value: unknown): PadAttr {
  if (value === "valid" || value === "same" || typeof value === "number") return value;
  if (Array.isArray(value) && value.length === 4 && value.every((p) => Array.isArray(p) && p.length === 2)) {
    return value as tf.backend_util.ExplicitPadding;
  }
  throw new Error(`pad must be 'same', 'valid', a number or explicit padding, got ${JSON.stringify(value)}`);
}

function asRounding(value: unknown): "floor" | "round" | "ceil" | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === "floor" || value === "round" || value === "ceil") return value;
  throw new Error(`dimRoundingMode must be floor, round or ceil, got ${JSON.stringify(value)}`);
}

/**
 * Geometry of the forward conv `x[inShape] * filter[filterShape]` described by backprop-kernel attrs.
 * Only NHWC and dilation 1 exist in tfjs's conv gradients, so only those are accepted.
 */
export function convGeometry(inShape: unknown, filterShape: unknown, attrs: tf.NamedAttrMap): ConvGeometry {
  const dataFormat = attrs["dataFormat"] ?? "NHWC";
  if (dataFormat !== "NHWC") throw new Error(`only NHWC is supported, got dataFormat ${JSON.stringify(dataFormat)}`);
  const x = asShape4(inShape, "input shape");
  const f = asShape4(filterShape, "filter shape");
  const info = tf.backend_util.computeConv2DInfo(
    x,
    f,
    asStrides(attrs["strides"]),
    1,
    asPad(attrs["pad"]),
    asRounding(attrs["dimRoundingMode"]),
    false,
    "channelsLast",
  );
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padBottom: info.padInfo.bottom,
    padLeft: info.padInfo.left,
    padRight: info.padInfo.right,
  };
}

/** A 1×1, stride-1, unpadded conv: its gradients are plain matrix products over all pixels. */
export function isPointwise(g: ConvGeometry): boolean {
  return (
    g.filterHeight === 1 &&
    g.filterWidth === 1 &&
    g.strideHeight === 1 &&
    g.strideWidth === 1 &&
    g.padTop === 0 &&
    g.padBottom === 0 &&
    g.padLeft === 0 &&
    g.padRight === 0
  );
}
