/**
 * Reading a user's caption list: `captions.csv` (header row with `file` or `image`, `caption`,
 * optional `caption_zh` and `group`; RFC 4180 quoting) or `captions.jsonl` (one object per line
 * with the same keys). Problems are collected, not thrown, each naming the file and line.
 */

export interface CaptionEntry {
  /** Image file name or stem as written by the user. */
  file: string;
  caption: string;
  caption_zh?: string;
  group?: string;
  /** "captions.csv:12" */
  where: string;
}

/** Split CSV text into rows; returns each row with the line it starts on. */
export function parseCsv(text: string): { cells: string[]; line: number }[] {
  const rows: { cells: string[]; line: number }[] = [];
  let cells: string[] = [];
  let cell = "";
  let quoted = false;
  let line = 1, rowLine = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let rowHasContent = false;
  const endRow = (): void => {
    cells.push(cell);
    if (rowHasContent || cells.length > 1 || cell !== "") rows.push({ cells, line: rowLine });
    cells = [];
    cell = "";
    rowHasContent = false;
  };
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === "\n") line++;
        cell += ch;
      }
      continue;
    }
    if (ch === '"') {
      quoted = true;
      rowHasContent = true;
    } else if (ch === ",") {
      cells.push(cell);
      cell = "";
      rowHasContent = true;
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      endRow();
      line++;
      rowLine = line;
    } else cell += ch;
  }
  if (cell !== "" || cells.length > 0 || rowHasContent) endRow();
  return rows;
}

/** Parse captions.csv text. */
export function readCaptionsCsv(text: string, name: string, problems: string[]): CaptionEntry[] {
  const rows = parseCsv(text);
  if (rows.length === 0) {
    problems.push(`${name}: empty file (expected a header row: file,caption[,caption_zh][,group])`);
    return [];
  }
  const header = rows[0].cells.map((h) => h.trim().toLowerCase());
  const col = (names: string[]): number => header.findIndex((h) => names.includes(h));
  const fileCol = col(["file", "image", "filename"]), capCol = col(["caption", "text", "caption_en"]), zhCol = col(["caption_zh"]), groupCol = col(["group"]);
  if (fileCol < 0 || capCol < 0) {
    problems.push(`${name}:${rows[0].line}: header must name a 'file' (or 'image') column and a 'caption' column, found: ${rows[0].cells.join(", ")}`);
    return [];
  }
  const out: CaptionEntry[] = [];
  for (const row of rows.slice(1)) {
    const where = `${name}:${row.line}`;
    if (row.cells.length !== header.length) {
      problems.push(`${where}: expected ${header.length} fields, found ${row.cells.length}`);
      continue;
    }
    const entry: CaptionEntry = { file: row.cells[fileCol].trim(), caption: row.cells[capCol], where };
    if (zhCol >= 0) entry.caption_zh = row.cells[zhCol];
    if (groupCol >= 0 && row.cells[groupCol].trim() !== "") entry.group = row.cells[groupCol].trim();
    out.push(entry);
  }
  return out;
}

/** Parse captions.jsonl text. */
export function readCaptionsJsonl(text: string, name: string, problems: string[]): CaptionEntry[] {
  const out: CaptionEntry[] = [];
  text.split("\n").forEach((raw, i) => {
    const where = `${name}:${i + 1}`;
    const lineText = raw.replace(/\r$/, "").replace(/^\ufeff/, "");
    if (lineText.trim() === "") return;
    let obj: unknown;
    try {
      obj = JSON.parse(lineText);
    } catch (err) {
      problems.push(`${where}: invalid JSON (${(err as Error).message})`);
      return;
    }
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
      problems.push(`${where}: expected a JSON object like {"file": "a.png", "caption": "…"}`);
      return;
    }
    const o = obj as Record<string, unknown>;
    const file = o.file ?? o.image;
    if (typeof file !== "string" || file.trim() === "") {
      problems.push(`${where}: missing "file" (the image's file name)`);
      return;
    }
    if (typeof o.caption !== "string") {
      problems.push(`${where}: missing "caption" (a string) for '${file}'`);
      return;
    }
    const entry: CaptionEntry = { file: file.trim(), caption: o.caption, where };
    if (o.caption_zh !== undefined) {
      if (typeof o.caption_zh !== "string") problems.push(`${where}: "caption_zh" must be a string`);
      else entry.caption_zh = o.caption_zh;
    }
    if (o.group !== undefined) {
      if (typeof o.group !== "string" && typeof o.group !== "number") problems.push(`${where}: "group" must be a string or number`);
      else entry.group = String(o.group);
    }
    out.push(entry);
  });
  return out;
}

/** Why a caption text is unusable (empty or with control characters), or null when it is fine. */
export function captionProblem(text: string): string | null {
  const t = text.trim();
  if (t === "") return "empty caption";
  // eslint-disable-next-line no-control-regex
  const m = /[\u0000-\u001f\u007f-\u009f]/.exec(t);
  if (m) return `caption contains a control character (U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}) at position ${m.index + 1}`;
  return null;
}
