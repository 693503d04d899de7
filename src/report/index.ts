/** Public API of src/report: the eval report format and its renderers. */
export * from "./report-types.js";
export { writeEvalReport, readEvalReport, rerenderEvalReport, REPORT_FILES, type WrittenReport } from "./write.js";
export { renderMarkdown, headline } from "./markdown.js";
export { renderHtml } from "./html.js";
export { comparisonGrid, upscaleNearest } from "./comparison.js";
export { summaryTable, perFoldTable } from "./tables.js";
