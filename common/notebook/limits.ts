// Output limits. Beyond them an output is cut in the document with a visible notice: the document
// stays small, every browser stays responsive, and nothing is dropped silently.

/** Characters of stream text (stdout + stderr) one run of a cell keeps. */
export const MAX_STREAM_CHARS_PER_RUN = 200_000;
/** Outputs (displays, results, errors) one run of a cell keeps. */
export const MAX_OUTPUTS_PER_RUN = 200;
/** Bytes of one output's MIME bundle (a plot, a table, an HTML blob). */
export const MAX_OUTPUT_BYTES = 8 * 1024 * 1024;
/** Characters of one error's traceback. */
export const MAX_TRACEBACK_CHARS = 50_000;
/** How often buffered stream text is written into the document while a cell runs. */
export const OUTPUT_FLUSH_MS = 50;

/** Metadata key marking the notice that replaces what a limit cut. */
export const TRUNCATION_METADATA_KEY = 'ynotebook_truncated';
