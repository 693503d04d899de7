/**
 * A small software rasteriser: a perspective look-at camera, and a z-buffered G-buffer
 * (camera depth, interpolated normal, world position, part id per pixel) filled triangle by
 * triangle with perspective-correct interpolation. Shading and line extraction both read the
 * G-buffer, so the render and the sketch see exactly the same geometry from the same camera.
 */
import { cross, normalize, sub, type Mesh, type Vec3 } from "./mesh.js";

export interface Camera {
  eye: Vec3;
  right: Vec3;
  up: Vec3;
  forward: Vec3;
  /** Focal length in pixels. */
  focal: number;
  width: number;
  height: number;
}

/** Orbit camera looking at `target`: yaw around the vertical axis (0 = from +z), pitch above the horizon. */
export function orbitCamera(target: Vec3, yawDeg: number, pitchDeg: number, distance: number, fovDeg: number, size: number): Camera {
  const yaw = (yawDeg * Math.PI) / 180, pitch = (pitchDeg * Math.PI) / 180;
  const eye: Vec3 = [
    target[0] + distance * Math.sin(yaw) * Math.cos(pitch),
    target[1] + distance * Math.sin(pitch),
    target[2] + distance * Math.cos(yaw) * Math.cos(pitch),
  ];
  const forward = normalize(sub(target, eye));
  const right = normalize(cross(forward, [0, 1, 0]));
  const up = cross(right, forward);
  const focal = size / 2 / Math.tan((fovDeg * Math.PI) / 360);
  return { eye, right, up, forward, focal, width: size, height: size };
}

/** Camera-frame direction (x right, y up, z into the scene) → world direction. */
export function cameraToWorld(cam: Camera, d: Vec3): Vec3 {
  return normalize([
    d[0] * cam.right[0] + d[1] * cam.up[0] + d[2] * cam.forward[0],
    d[0] * cam.right[1] + d[1] * cam.up[1] + d[2] * cam.forward[1],
    d[0] * cam.right[2] + d[1] * cam.up[2] + d[2] * cam.forward[2],
  ]);
}

export interface GBuffer {
  width: number;
  height: number;
  /** Camera-space depth (distance along the view axis); Infinity where empty. */
  depth: Float32Array;
  /** Interpolated (unnormalised) normal, 3 per pixel. */
  normal: Float32Array;
  /** World position, 3 per pixel. */
  position: Float32Array;
  /** Part id, -1 where empty. */
  part: Int16Array;
}

interface Projected {
  sx: number;
  sy: number;
  z: number;
}

function project(cam: Camera, x: number, y: number, z: number): Projected {
  const dx = x - cam.eye[0], dy = y - cam.eye[1], dz = z - cam.eye[2];
  const cx = dx * cam.right[0] + dy * cam.right[1] + dz * cam.right[2];
  const cy = dx * cam.up[0] + dy * cam.up[1] + dz * cam.up[2];
  const cz = dx * cam.forward[0] + dy * cam.forward[1] + dz * cam.forward[2];
  return { sx: cam.width / 2 + (cam.focal * cx) / cz, sy: cam.height / 2 - (cam.focal * cy) / cz, z: cz };
}

/**
 * Visit the pixel centres covered by a screen triangle: `visit(index, w0, w1, w2)` with screen-space
 * barycentric weights.
 */
function scanTriangle(a: Projected, b: Projected, c: Projected, width: number, height: number, visit: (idx: number, w0: number, w1: number, w2: number) => void): void {
  const area = (b.sx - a.sx) * (c.sy - a.sy) - (b.sy - a.sy) * (c.sx - a.sx);
  if (Math.abs(area) < 1e-9) return;
  const x0 = Math.max(0, Math.floor(Math.min(a.sx, b.sx, c.sx))), x1 = Math.min(width - 1, Math.ceil(Math.max(a.sx, b.sx, c.sx)));
  const y0 = Math.max(0, Math.floor(Math.min(a.sy, b.sy, c.sy))), y1 = Math.min(height - 1, Math.ceil(Math.max(a.sy, b.sy, c.sy)));
  const inv = 1 / area;
  for (let y = y0; y <= y1; y++) {
    const py = y + 0.5;
    for (let x = x0; x <= x1; x++) {
      const px = x + 0.5;
      const w0 = ((b.sx - px) * (c.sy - py) - (b.sy - py) * (c.sx - px)) * inv;
      const w1 = ((c.sx - px) * (a.sy - py) - (c.sy - py) * (a.sx - px)) * inv;
      const w2 = 1 - w0 - w1;
      if (w0 < 0 || w1 < 0 || w2 < 0) continue;
      visit(y * width + x, w0, w1, w2);
    }
  }
}

/** Rasterise the mesh into a G-buffer. */
export function rasterize(mesh: Mesh, cam: Camera): GBuffer {
  const { width, height } = cam;
  const n = width * height;
  const g: GBuffer = { width, height, depth: new Float32Array(n).fill(Infinity), normal: new Float32Array(n * 3), position: new Float32Array(n * 3), part: new Int16Array(n).fill(-1) };
  const P = mesh.pos, N = mesh.nrm;
  for (let t = 0; t < mesh.triangles; t++) {
    const o = t * 9;
    const a = project(cam, P[o], P[o + 1], P[o + 2]), b = project(cam, P[o + 3], P[o + 4], P[o + 5]), c = project(cam, P[o + 6], P[o + 7], P[o + 8]);
    if (a.z <= 1e-3 || b.z <= 1e-3 || c.z <= 1e-3) continue;
    const part = mesh.part[t];
    scanTriangle(a, b, c, width, height, (idx, w0, w1, w2) => {
      // perspective-correct weights
      const q0 = w0 / a.z, q1 = w1 / b.z, q2 = w2 / c.z;
      const z = 1 / (q0 + q1 + q2);
      if (z >= g.depth[idx]) return;
      g.depth[idx] = z;
      g.part[idx] = part;
      const k0 = q0 * z, k1 = q1 * z, k2 = q2 * z;
      for (let k = 0; k < 3; k++) {
        g.normal[idx * 3 + k] = k0 * N[o + k] + k1 * N[o + 3 + k] + k2 * N[o + 6 + k];
        g.position[idx * 3 + k] = k0 * P[o + k] + k1 * P[o + 3 + k] + k2 * P[o + 6 + k];
      }
    });
  }
  return g;
}

/**
 * Coverage of the mesh's shadow on the ground plane y = 0, cast along `toLight` (pointing to
 * the light, y > 0), as seen by the camera: 1 where the ground is in shadow.
 */
export function groundShadow(mesh: Mesh, cam: Camera, toLight: Vec3): Float32Array {
  const mask = new Float32Array(cam.width * cam.height);
  const P = mesh.pos;
  const ground = (i: number): Projected => {
    const y = P[i + 1];
    const k = y / toLight[1];
    return project(cam, P[i] - toLight[0] * k, 0, P[i + 2] - toLight[2] * k);
  };
  for (let t = 0; t < mesh.triangles; t++) {
    const o = t * 9;
    const a = ground(o), b = ground(o + 3), c = ground(o + 6);
    if (a.z <= 1e-3 || b.z <= 1e-3 || c.z <= 1e-3) continue;
    scanTriangle(a, b, c, cam.width, cam.height, (idx) => {
      mask[idx] = 1;
    });
  }
  return mask;
}

/** Separable box blur, `passes` times (three passes ≈ a Gaussian). In place. */
export function blur(buf: Float32Array, width: number, height: number, radius: number, passes = 3): void {
  const r = Math.max(1, Math.round(radius));
  const tmp = new Float32Array(Math.max(width, height));
  const line = (get: (i: number) => number, set: (i: number, v: number) => void, len: number): void => {
    for (let i = 0; i < len; i++) tmp[i] = get(i);
    let acc = 0;
    for (let i = -r; i <= r; i++) acc += tmp[Math.min(len - 1, Math.max(0, i))];
    for (let i = 0; i < len; i++) {
      set(i, acc / (2 * r + 1));
      acc += tmp[Math.min(len - 1, i + r + 1)] - tmp[Math.max(0, i - r)];
    }
  };
  for (let p = 0; p < passes; p++) {
    for (let y = 0; y < height; y++) line((i) => buf[y * width + i], (i, v) => (buf[y * width + i] = v), width);
    for (let x = 0; x < width; x++) line((i) => buf[i * width + x], (i, v) => (buf[i * width + x] = v), height);
  }
}

