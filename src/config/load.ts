/**
 * Loading an experiment config: YAML files with `extends:` (relative to the file, cycles
 * detected), `--set a.b=c` overrides typed by the schema, validation by the one zod schema,
 * and the config hash (sha256 of the canonical JSON of the resolved config).
 *
 * Every error names the file (and line where known), the key path and what was expected,
 * and suggests the nearest valid key for a typo.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { LineCounter, parseDocument, isMap, isPair, isScalar, type Document } from "yaml";
import { z } from "zod";
import { configSchema, type Config } from "./schema.js";
import { crossFieldIssues, type ConstraintIssue } from "./constraints.js";
import { UsageError } from "../errors.js";
import { nearestKey } from "./suggest.js";
import { schemaAt, validKeysAt, schemaAccepts } from "./walk.js";

export interface LoadedConfig {
  config: Config;
  /** sha256 of the canonical JSON of `config`. */
  hash: string;
  /** The top config file, absolute. */
  file: string;
  /** Where a key ("train.devices") was set: file:line, the `--set` that set it, or the top file when it has its default. */
  where(key: string): string;
}

type Plain = Record<string, unknown>;

interface SourceFile {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
}

/** Where each key path came from (for error messages). */
type Origins = Map<string, string>;

const MAX_EXTENDS_DEPTH = 16;

function isPlainObject(v: unknown): v is Plain {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function readYaml(file: string): { data: Plain; source: SourceFile } {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === "ENOENT" ? `${file}: config file not found` : `${file}: cannot read config (${code ?? String(err)})`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = lines.linePos(e.pos[0]);
    throw new UsageError(`${file}:${pos.line}: invalid YAML: ${e.message.split("\n")[0]}`);
  }
  let data: unknown;
  try {
    // maxAliasCount guards against alias bombs ("billion laughs")
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new UsageError(`${file}: invalid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (data === null || data === undefined) data = {};
  if (!isPlainObject(data)) throw new UsageError(`${file}: a config must be a YAML mapping of keys to values`);
  return { data, source: { file, doc, lines } };
}

function deepMerge(base: Plain, over: Plain, file: string, origins: Origins, prefix: string[] = []): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const keyPath = [...prefix, k];
    if (isPlainObject(v) && isPlainObject(out[k])) out[k] = deepMerge(out[k] as Plain, v, file, origins, keyPath);
    else {
      out[k] = v;
      recordOrigins(v, keyPath, file, origins);
    }
  }
  return out;
}

function recordOrigins(v: unknown, keyPath: string[], file: string, origins: Origins): void {
  origins.set(keyPath.join("."), file);
  if (isPlainObject(v)) for (const [k, child] of Object.entries(v)) recordOrigins(child, [...keyPath, k], file, origins);
}

function resolveFile(file: string, chain: string[], origins: Origins, sources: SourceFile[]): Plain {
  const abs = path.resolve(file);
  if (chain.includes(abs)) {
    const cycle = [...chain.slice(chain.indexOf(abs)), abs].map((f) => path.relative(process.cwd(), f) || f).join(" → ");
    throw new UsageError(`${chain[chain.length - 1]}: extends: cycle detected (${cycle})`);
  }
  if (chain.length >= MAX_EXTENDS_DEPTH) throw new UsageError(`${abs}: extends: more than ${MAX_EXTENDS_DEPTH} levels`);
  const { data, source } = readYaml(abs);
  sources.push(source);
  const { extends: parentRef, ...own } = data;
  let base: Plain = {};
  if (parentRef !== undefined) {
    if (typeof parentRef !== "string" || parentRef.length === 0) throw new UsageError(`${abs}: extends: expected a file name (string)`);
    const parentFile = path.resolve(path.dirname(abs), parentRef);
    if (!fs.existsSync(parentFile)) throw new UsageError(`${abs}: extends: file not found: ${parentRef} (looked for ${parentFile})`);
    base = resolveFile(parentFile, [...chain, abs], origins, sources);
  }
  return deepMerge(base, own, abs, origins);
}

/** Parse one `a.b=c` override; the value is YAML, then coerced to what the schema expects there. */
export function applySet(target: Plain, expr: string, origins: Origins): Plain {
  const eq = expr.indexOf("=");
  if (eq <= 0) throw new UsageError(`--set ${expr}: expected key.path=value`);
  const keyPath = expr.slice(0, eq).trim().split(".");
  const raw = expr.slice(eq + 1);
  if (keyPath.some((k) => k.length === 0)) throw new UsageError(`--set ${expr}: empty key in '${expr.slice(0, eq)}'`);
  const node = schemaAt(configSchema, keyPath);
  if (!node) {
    const parent = keyPath.slice(0, -1);
    const valid = validKeysAt(configSchema, parent);
    const hint = valid ? nearestKey(keyPath[keyPath.length - 1], valid) : null;
    throw new UsageError(`--set ${expr}: unknown key ${keyPath.join(".")}${hint ? ` (did you mean ${[...parent, hint].join(".")}?)` : ""}`);
  }
  let value: unknown;
  const doc = parseDocument(raw);
  value = doc.errors.length > 0 ? raw : doc.toJS({ maxAliasCount: 10 });
  if (value === null && raw.trim() === "") value = "";
  // a string-typed key keeps the literal text (e.g. name=123)
  if (typeof value !== "string" && !schemaAccepts(node, value) && schemaAccepts(node, raw)) value = raw;
  const out: Plain = structuredClone(target);
  let cur: Plain = out;
  for (const k of keyPath.slice(0, -1)) {
    if (!isPlainObject(cur[k])) cur[k] = {};
    cur = cur[k] as Plain;
  }
  cur[keyPath[keyPath.length - 1]] = value;
  recordOrigins(value, keyPath, `--set ${expr}`, origins);
  return out;
}

function lineOf(sources: SourceFile[], file: string, keyPath: (string | number)[]): number | null {
  const src = sources.find((s) => s.file === file);
  if (!src) return null;
  for (let n = keyPath.length; n > 0; n--) {
    const parentPath = keyPath.slice(0, n - 1);
    const parent = parentPath.length === 0 ? src.doc.contents : src.doc.getIn(parentPath, true);
    if (isMap(parent)) {
      for (const item of parent.items) {
        if (isPair(item) && isScalar(item.key) && String(item.key.value) === String(keyPath[n - 1]) && item.key.range) {
          return src.lines.linePos(item.key.range[0]).line;
        }
      }
    }
  }
  return null;
}

function describeExpected(issue: z.core.$ZodIssue): string {
  const msg = issue.message.replace(/^Invalid input: /, "");
  return msg;
}

function formatIssue(issue: z.core.$ZodIssue, topFile: string, origins: Origins, sources: SourceFile[]): string {
  const keyPath = issue.path.map(String);
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0];
    const full = [...keyPath, key];
    const origin = origins.get(full.join(".")) ?? topFile;
    const line = lineOf(sources, origin, full);
    const valid = validKeysAt(configSchema, keyPath) ?? [];
    const hint = nearestKey(key, valid);
    const where = line ? `${origin}:${line}` : origin;
    return `${where}: ${full.join(".")}: unknown key${hint ? ` (did you mean ${[...keyPath, hint].join(".")}?)` : valid.length ? ` (valid keys: ${valid.join(", ")})` : ""}`;
  }
  const origin = origins.get(keyPath.join(".")) ?? topFile;
  const line = origin.startsWith("--set") ? null : lineOf(sources, origin, keyPath);
  const where = line ? `${origin}:${line}` : origin;
  return `${where}: ${keyPath.join(".") || "(top level)"}: ${describeExpected(issue)}`;
}

/** A cross-key problem where its key was set (file:line, or the --set), naming where the other keys came from. */
function formatConstraint(c: ConstraintIssue, topFile: string, origins: Origins, sources: SourceFile[]): string {
  const originOf = (keyPath: string[]): string => origins.get(keyPath.join(".")) ?? topFile;
  const origin = originOf(c.path);
  const line = origin.startsWith("--set") ? null : lineOf(sources, origin, c.path);
  const others = c.related.filter((k) => originOf(k) !== origin).map((k) => `${k.join(".")} from ${originOf(k)}`);
  return `${line ? `${origin}:${line}` : origin}: ${c.path.join(".")}: ${c.message}${others.length ? ` (${others.join("; ")})` : ""}`;
}

/** Validate a plain object against the schema and the cross-key rules (used for run configs and eval variants too). */
export function validateConfig(data: unknown, fileLabel: string): Config {
  const r = configSchema.safeParse(data);
  if (!r.success) throw new UsageError(formatIssue(r.error.issues[0], fileLabel, new Map(), []));
  const cross = crossFieldIssues(r.data);
  if (cross.length > 0) throw new UsageError(formatConstraint(cross[0], fileLabel, new Map(), []));
  return r.data;
}

/** Load, merge, override and validate a config file. */
export function loadConfig(file: string, sets: string[] = []): LoadedConfig {
  const abs = path.resolve(file);
  const origins: Origins = new Map();
  const sources: SourceFile[] = [];
  let data = resolveFile(abs, [], origins, sources);
  for (const s of sets) data = applySet(data, s, origins);
  const r = configSchema.safeParse(data);
  if (!r.success) {
    const issues = r.error.issues;
    const first = formatIssue(issues[0], abs, origins, sources);
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? "s" : ""})` : "";
    throw new UsageError(first + more);
  }
  const cross = crossFieldIssues(r.data);
  if (cross.length > 0) {
    const more = cross.length > 1 ? ` (and ${cross.length - 1} more problem${cross.length > 2 ? "s" : ""})` : "";
    throw new UsageError(formatConstraint(cross[0], abs, origins, sources) + more);
  }
  // dataset.path is relative to the config file that set it
  const config = r.data;
  if (config.dataset.path !== undefined && !path.isAbsolute(config.dataset.path)) {
    const origin = origins.get("dataset.path");
    const baseDir = origin && !origin.startsWith("--set") ? path.dirname(origin) : process.cwd();
    config.dataset.path = path.resolve(baseDir, config.dataset.path);
  }
  // train.init: run:PATH is relative to the config file that set it, like dataset.path
  const runInit = /^run:(.*)$/.exec(config.train.init);
  if (runInit && !path.isAbsolute(runInit[1])) {
    const origin = origins.get("train.init");
    const baseDir = origin && !origin.startsWith("--set") ? path.dirname(origin) : process.cwd();
    config.train.init = `run:${path.resolve(baseDir, runInit[1])}`;
  }
  const where = (key: string): string => {
    const origin = origins.get(key) ?? abs;
    const line = origin.startsWith("--set") ? null : lineOf(sources, origin, key.split("."));
    return line ? `${origin}:${line}` : origin;
  };
  return { config, hash: configHash(config), file: abs, where };
}

/** sha256 of the canonical JSON (keys sorted) of a resolved config. */
export function configHash(config: Config): string {
  return createHash("sha256").update(canonical(config)).digest("hex");
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (isPlainObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => v[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}
