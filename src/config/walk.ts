/**
 * Walking the zod config schema: find the schema of a key path, list the valid keys of an
 * object, and describe every key (type, default, doc string) for the generated reference.
 */
import { z } from "zod";

type Schema = z.ZodType;

/** Strip default/optional wrappers, collecting the outermost description and default. */
function unwrap(s: Schema): { inner: Schema; description?: string; defaultValue?: unknown; optional: boolean } {
  let description: string | undefined = s.description;
  let defaultValue: unknown = undefined;
  let optional = false;
  let cur: Schema = s;
  for (;;) {
    if (cur instanceof z.ZodDefault) {
      const d = cur.def.defaultValue;
      defaultValue = typeof d === "function" ? (d as () => unknown)() : d;
      cur = cur.def.innerType as Schema;
    } else if (cur instanceof z.ZodOptional) {
      optional = true;
      cur = cur.def.innerType as Schema;
    } else break;
    description ??= cur.description;
  }
  description ??= cur.description;
  return { inner: cur, description, defaultValue, optional };
}

/** The schema at a key path (e.g. ["train", "steps"]), or null if there is no such key. */
export function schemaAt(root: Schema, keyPath: readonly string[]): Schema | null {
  let cur: Schema = root;
  for (const key of keyPath) {
    const inner = unwrap(cur).inner;
    if (!(inner instanceof z.ZodObject)) return null;
    const shape = inner.shape as Record<string, Schema>;
    if (!Object.prototype.hasOwnProperty.call(shape, key)) return null;
    cur = shape[key];
  }
  return cur;
}

/** The keys an object at this path accepts, or null if the path is not an object. */
export function validKeysAt(root: Schema, keyPath: readonly string[]): string[] | null {
  const s = schemaAt(root, keyPath);
  if (!s) return null;
  const inner = unwrap(s).inner;
  return inner instanceof z.ZodObject ? Object.keys(inner.shape) : null;
}

export function schemaAccepts(s: Schema, value: unknown): boolean {
  return s.safeParse(value).success;
}

/** A short human type name for the reference table. */
function typeName(s: Schema): string {
  const inner = unwrap(s).inner;
  if (inner instanceof z.ZodEnum) return (inner.options as readonly (string | number)[]).map(String).join(" \\| ");
  if (inner instanceof z.ZodLiteral) return [...inner.values].map(String).join(" \\| ");
  if (inner instanceof z.ZodNumber) return inner.format === "safeint" || inner.isInt ? "integer" : "number";
  if (inner instanceof z.ZodString) return "string";
  if (inner instanceof z.ZodBoolean) return "boolean";
  if (inner instanceof z.ZodArray) return `list of ${typeName(inner.element as Schema)}`;
  if (inner instanceof z.ZodUnion) return (inner.options as Schema[]).map(typeName).join(" \\| ");
  if (inner instanceof z.ZodObject) return "mapping";
  return "value";
}

export interface KeyDoc {
  key: string;
  type: string;
  default: string;
  doc: string;
}

/** Every leaf key of the schema, in schema order. */
export function describeKeys(root: Schema, prefix: string[] = []): KeyDoc[] {
  const out: KeyDoc[] = [];
  const inner = unwrap(root).inner;
  if (!(inner instanceof z.ZodObject)) return out;
  for (const [key, child] of Object.entries(inner.shape as Record<string, Schema>)) {
    const u = unwrap(child);
    const keyPath = [...prefix, key];
    if (u.inner instanceof z.ZodObject) {
      out.push(...describeKeys(child, keyPath));
      continue;
    }
    out.push({
      key: keyPath.join("."),
      type: typeName(child),
      default: u.defaultValue === undefined ? (u.optional ? "—" : "required") : JSON.stringify(u.defaultValue),
      doc: u.description ?? "",
    });
  }
  return out;
}

/** The config reference as a Markdown table (README's reference section is this text). */
export function referenceMarkdown(root: Schema): string {
  const rows = describeKeys(root);
  const lines = ["| key | type | default | meaning |", "|---|---|---|---|"];
  for (const r of rows) lines.push(`| \`${r.key}\` | ${r.type} | ${r.default === "—" ? "—" : `\`${r.default.replace(/\|/g, "\\|")}\``} | ${r.doc.replace(/\|/g, "\\|")} |`);
  return lines.join("\n") + "\n";
}
