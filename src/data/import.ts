/**
 * Importing a researcher's own pairs into a dataset folder.
 *
 * - art: images (PNG/JPEG) in DIR/images/ or DIR itself, with captions from DIR/captions.csv,
 *   DIR/captions.jsonl, or a same-name `.txt` per image (and optionally `.zh.txt` for Chinese).
 * - sketch2render: DIR/sketches/ and DIR/renders/, matched by file name (without extension);
 *   captions are optional (same caption files, keyed by the render's name).
 *
 * Every image is decoded (sharp), centre-cropped to a square and resized to `size`, and written
 * as PNG. All problems are collected and reported together, each naming its file; if there is
 * any, nothing is written. Every other file or folder in DIR (not an image, a caption file that
 * was not read, a hidden file, a subfolder) is named in one warning: nothing is dropped silently.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { UsageError } from "../errors.js";
import { encodePng, readAnyImage, type Image } from "../engine/image.js";
import { silentProgress, type ProgressSink } from "../engine/progress.js";
import type { DatasetKind, GeneratedPair, PairRecord } from "./dataset.js";
import { captionProblem, readCaptionsCsv, readCaptionsJsonl, type CaptionEntry } from "./captions-file.js";
import { centreCropSquare, resizeSquare } from "./resize.js";
import { writeDataset, type WriteResult } from "./write.js";

export const IMPORT_GENERATOR = { name: "diffx-import", version: "1" } as const;
const IMAGE_EXT = /\.(png|jpe?g)$/i;

export interface ImportOptions {
  kind: DatasetKind;
  /** Source folder. */
  from: string;
  /** Dataset folder to write. */
  out: string;
  /** Stored image size (square), default 128. */
  size?: number;
  /** Replace a different dataset already at `out`. */
  force?: boolean;
  progress?: ProgressSink;
}

interface Source {
  stem: string;
  /** Path relative to the source folder. */
  rel: string;
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The PNG and JPEG images in `dir` by stem; duplicate stems are problems. Every other entry
 * (caption files, hidden files, folders — shown with a trailing `/`) is added to `others` as
 * `relDir/name`, so the caller can say what it did not import instead of dropping it silently.
 * Symbolic links to images count.
 */
function listImages(dir: string, relDir: string, problems: string[], others: string[]): Map<string, Source> {
  const out = new Map<string, Source>();
  const names: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = relDir ? `${relDir}/${e.name}` : e.name;
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      try {
        isFile = fs.statSync(path.join(dir, e.name)).isFile();
      } catch {
        if (IMAGE_EXT.test(e.name)) {
          problems.push(`${rel}: a symbolic link to a missing file (${fs.readlinkSync(path.join(dir, e.name))})`);
          continue;
        }
        isFile = false; // a dangling link to something else: named with the others
      }
    }
    if (isFile && IMAGE_EXT.test(e.name) && !e.name.startsWith(".")) names.push(e.name);
    else others.push(e.isDirectory() ? `${rel}/` : rel);
  }
  names.sort(byCodeUnit);
  for (const name of names) {
    const stem = name.replace(IMAGE_EXT, "");
    const rel = relDir ? `${relDir}/${name}` : name;
    const prev = out.get(stem);
    if (prev) problems.push(`${rel}: duplicate name '${stem}' (also ${prev.rel})`);
    else out.set(stem, { stem, rel });
  }
  return out;
}

/** The entries of the source folder itself other than `folders` (the ones whose images are read), as `listImages` shows them. */
function otherTopLevel(from: string, folders: readonly string[]): string[] {
  return fs
    .readdirSync(from, { withFileTypes: true })
    .filter((e) => !(folders.includes(e.name) && isDir(path.join(from, e.name))))
    .map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
}

/**
 * One warning naming every file and folder that was not imported (nothing when there is none):
 * `others` less the caption files that were read (`used`). Hidden files are named too, apart.
 */
function warnSkipped(others: readonly string[], used: ReadonlySet<string>, progress: ProgressSink): void {
  const skipped = others.filter((rel) => !used.has(rel)).sort(byCodeUnit);
  const hidden = (rel: string): boolean => path.posix.basename(rel.replace(/\/$/, "")).startsWith(".");
  const shown = skipped.filter((rel) => !hidden(rel));
  const hiddenShown = skipped.filter(hidden);
  if (skipped.length === 0) return;
  const parts = [
    shown.length > 0 ? shown.join(", ") : "",
    hiddenShown.length > 0 ? `hidden: ${hiddenShown.join(", ")}` : "",
  ].filter(Boolean);
  progress.warn(`not imported (only PNG and JPEG images, with their captions, are read; folders are not searched): ${parts.join("; ")}`);
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

interface Captions {
  byStem: Map<string, CaptionEntry>;
  /** Name of the captions file used, or null (per-image .txt files). */
  file: string | null;
}

/** Read captions.csv / captions.jsonl, keyed by image stem; entries naming no image are problems. */
function readCaptionList(from: string, images: Map<string, Source>, problems: string[]): Captions {
  const present = ["captions.csv", "captions.jsonl"].filter((f) => fs.existsSync(path.join(from, f)));
  if (present.length === 0) return { byStem: new Map(), file: null };
  if (present.length > 1) {
    problems.push(`both captions.csv and captions.jsonl are present in ${from}; keep only one`);
    return { byStem: new Map(), file: present[0] };
  }
  const file = present[0];
  const text = fs.readFileSync(path.join(from, file), "utf8");
  const entries = file.endsWith(".csv") ? readCaptionsCsv(text, file, problems) : readCaptionsJsonl(text, file, problems);
  const byStem = new Map<string, CaptionEntry>();
  for (const e of entries) {
    const base = path.basename(e.file);
    const stem = base.replace(IMAGE_EXT, "");
    if (!images.has(stem)) {
      problems.push(`${e.where}: image '${e.file}' not found`);
      continue;
    }
    const prev = byStem.get(stem);
    if (prev) {
      problems.push(`${e.where}: duplicate entry for '${e.file}' (first at ${prev.where})`);
      continue;
    }
    byStem.set(stem, e);
  }
  return { byStem, file };
}

function checkCaption(text: string, where: string, problems: string[]): string | undefined {
  const p = captionProblem(text);
  if (p) {
    problems.push(`${where}: ${p}`);
    return undefined;
  }
  return text.trim();
}

async function decodeSquare(file: string, rel: string, channels: 1 | 3, size: number, problems: string[]): Promise<Image | null> {
  try {
    return resizeSquare(centreCropSquare(await readAnyImage(file, channels)), size);
  } catch (err) {
    const msg = (err instanceof Error ? err.message : String(err)).replace(`${file}: `, "");
    const detail = /^not a readable image \((.*)\)$/s.exec(msg)?.[1] ?? msg;
    problems.push(`${rel}: unreadable image (${detail})`);
    return null;
  }
}

function failWith(from: string, problems: string[]): never {
  const shown = problems.slice(0, 200);
  const more = problems.length > shown.length ? `\n  … and ${problems.length - shown.length} more` : "";
  throw new UsageError(`import from ${from} failed with ${problems.length} problem${problems.length === 1 ? "" : "s"} (nothing was written):\n  - ${shown.join("\n  - ")}${more}`);
}

/** Import a folder of pairs (see the module comment). */
export async function importDataset(opts: ImportOptions): Promise<WriteResult> {
  const from = path.resolve(opts.from);
  const size = opts.size ?? 128;
  if (!Number.isInteger(size) || size < 1) throw new UsageError(`--size must be a positive integer, got ${opts.size}`);
  if (!isDir(from)) throw new UsageError(`${from}: source folder not found`);
  const progress = opts.progress ?? silentProgress;
  const problems: string[] = [];
  const pairs: GeneratedPair[] = [];

  if (opts.kind === "art") {
    const imgDir = isDir(path.join(from, "images")) ? "images" : "";
    const others = imgDir ? otherTopLevel(from, [imgDir]) : [];
    const images = listImages(path.join(from, imgDir), imgDir, problems, others);
    if (images.size === 0) problems.push(`no PNG or JPEG images found in ${path.join(from, imgDir)}`);
    const captions = readCaptionList(from, images, problems);
    const used = new Set<string>(captions.file !== null ? [captions.file] : []);
    const stems = [...images.keys()].sort(byCodeUnit);
    progress.start("importing art pairs", stems.length);
    for (const [i, stem] of stems.entries()) {
      const src = images.get(stem) as Source;
      const entry = captions.byStem.get(stem);
      let caption: string | undefined, captionZh: string | undefined, group: string | undefined;
      if (captions.file !== null) {
        if (!entry) problems.push(`${src.rel}: no caption (missing from ${captions.file})`);
        else {
          caption = checkCaption(entry.caption, `${entry.where} (${src.rel})`, problems);
          if (entry.caption_zh !== undefined && entry.caption_zh.trim() !== "") captionZh = checkCaption(entry.caption_zh, `${entry.where} (${src.rel}, caption_zh)`, problems);
          group = entry.group;
        }
      } else {
        const txtRel = path.posix.join(imgDir, `${stem}.txt`);
        const txt = path.join(from, txtRel);
        if (!fs.existsSync(txt)) problems.push(`${src.rel}: no caption (no ${txtRel}, captions.csv or captions.jsonl)`);
        else {
          caption = checkCaption(fs.readFileSync(txt, "utf8"), txtRel, problems);
          used.add(txtRel);
        }
        const zhRel = path.posix.join(imgDir, `${stem}.zh.txt`);
        if (fs.existsSync(path.join(from, zhRel))) {
          captionZh = checkCaption(fs.readFileSync(path.join(from, zhRel), "utf8"), zhRel, problems);
          used.add(zhRel);
        }
      }
      const img = await decodeSquare(path.join(from, src.rel), src.rel, 3, size, problems);
      progress.update(i + 1);
      if (!img || caption === undefined) continue;
      const id = String(i).padStart(4, "0");
      const record: PairRecord = { id, image: `images/${id}.png`, caption, ...(captionZh !== undefined ? { caption_zh: captionZh } : {}), attributes: {}, group: group ?? id, source: src.rel };
      pairs.push({ record, files: [{ path: record.image, bytes: encodePng(img) }] });
    }
    progress.stop();
    warnSkipped(others, used, progress);
  } else {
    const missingDirs = ["sketches", "renders"].filter((d) => !isDir(path.join(from, d)));
    for (const d of missingDirs) problems.push(`${path.join(from, d)}: folder not found (sketch2render needs sketches/ and renders/)`);
    if (missingDirs.length > 0) failWith(from, problems);
    const others = otherTopLevel(from, ["sketches", "renders"]);
    const sketches = listImages(path.join(from, "sketches"), "sketches", problems, others);
    const renders = listImages(path.join(from, "renders"), "renders", problems, others);
    for (const [stem, s] of sketches) if (!renders.has(stem)) problems.push(`${s.rel}: sketch without a render (no renders/${stem}.png or .jpg)`);
    for (const [stem, r] of renders) if (!sketches.has(stem)) problems.push(`${r.rel}: render without a sketch (no sketches/${stem}.png or .jpg)`);
    if (sketches.size === 0 && renders.size === 0) problems.push(`no PNG or JPEG images found in ${from}/sketches and ${from}/renders`);
    const captions = readCaptionList(from, renders, problems);
    warnSkipped(others, new Set(captions.file !== null ? [captions.file] : []), progress);
    const stems = [...renders.keys()].filter((s) => sketches.has(s)).sort(byCodeUnit);
    progress.start("importing sketch2render pairs", stems.length);
    for (const [i, stem] of stems.entries()) {
      const r = renders.get(stem) as Source, s = sketches.get(stem) as Source;
      const entry = captions.byStem.get(stem);
      const caption = entry ? checkCaption(entry.caption, `${entry.where} (${r.rel})`, problems) : undefined;
      const captionZh = entry?.caption_zh !== undefined && entry.caption_zh.trim() !== "" ? checkCaption(entry.caption_zh, `${entry.where} (${r.rel}, caption_zh)`, problems) : undefined;
      const render = await decodeSquare(path.join(from, r.rel), r.rel, 3, size, problems);
      const sketch = await decodeSquare(path.join(from, s.rel), s.rel, 1, size, problems);
      progress.update(i + 1);
      if (!render || !sketch) continue;
      const id = String(i).padStart(4, "0");
      const record: PairRecord = {
        id,
        image: `images/${id}.png`,
        sketch: `sketches/${id}.png`,
        ...(caption !== undefined ? { caption } : {}),
        ...(captionZh !== undefined ? { caption_zh: captionZh } : {}),
        attributes: {},
        group: entry?.group ?? id,
        source: r.rel,
      };
      pairs.push({ record, files: [{ path: record.image, bytes: encodePng(render) }, { path: record.sketch as string, bytes: encodePng(sketch) }] });
    }
    progress.stop();
    // unmatched files are reported above; check they can be read too, so every problem shows at once
    for (const [stem, r] of renders) if (!sketches.has(stem)) await decodeSquare(path.join(from, r.rel), r.rel, 3, size, problems);
    for (const [stem, s] of sketches) if (!renders.has(stem)) await decodeSquare(path.join(from, s.rel), s.rel, 1, size, problems);
  }

  if (problems.length > 0) failWith(from, problems);
  return writeDataset(opts.out, { kind: opts.kind, generator: IMPORT_GENERATOR, seed: null, image_size: size, pairs }, { force: opts.force });
}
