// Named limits of the AI service. Everything that bounds a model call, a retry or the size of
// what we send to the model lives here, so a reader can see the budget in one place.

/** Attempts per generate request: the first run plus fixes after an error. */
export const MAX_ATTEMPTS = 3;

/** A traceback sent back to the model is cut to this many characters (head and tail kept). */
export const MAX_ERROR_OUTPUT_CHARS = 4_000;

/** Each earlier cell's outputs, as shown to the model in the context, are cut to this. */
export const MAX_OUTPUT_CHARS_PER_CELL_IN_CONTEXT = 1_500;

/** At most this many earlier cells (the nearest ones) go into the context. */
export const MAX_CONTEXT_CELLS = 30;

/** A cell's source, as shown to the model in the context, is cut to this. */
export const MAX_SOURCE_CHARS_PER_CELL_IN_CONTEXT = 6_000;

/** The whole context message is cut to this many characters. */
export const MAX_CONTEXT_CHARS = 48_000;

/** Variables read from the kernel and listed in the context. */
export const MAX_CONTEXT_VARIABLES = 50;

/** Files of the kernel's working directory listed in the context. */
export const MAX_CONTEXT_FILES = 100;
/** Characters of a CSV's (or an Excel sheet's) first row shown to the model. */
export const MAX_FILE_HEADER_CHARS = 300;
/** Excel files larger than this are listed without a look inside (opening them takes too long). */
export const MAX_EXCEL_PEEK_BYTES = 20 * 1024 * 1024;

/**
 * An earlier AI cell's request and answer, as shown to the model in the context (a follow-up such
 * as "now do the same by region" needs them), are cut to these.
 */
export const MAX_EARLIER_PROMPT_CHARS_IN_CONTEXT = 2_000;
export const MAX_EARLIER_ANSWER_CHARS_IN_CONTEXT = 1_000;

/** Files one request may name as attached (uploaded with it from the ask bar). */
export const MAX_ATTACHMENTS = 20;

/** The prompt a person types is refused past this length. */
export const MAX_PROMPT_CHARS = 8_000;

/** `max_tokens` of one model turn. */
export const MAX_COMPLETION_TOKENS = 4_096;

/** One model turn (request to last chunk) may take at most this long. */
export const GENERATION_TIMEOUT_MS = 120_000;

/** No byte from the endpoint for this long (before the headers or between chunks) is a timeout. */
export const STREAM_IDLE_TIMEOUT_MS = 30_000;

/** Retries of one model turn after a 429, a 5xx or a connection error (not after 401/404). */
export const PROVIDER_RETRIES = 2;

/** First backoff delay; doubled per retry, with jitter. */
export const PROVIDER_RETRY_BASE_DELAY_MS = 500;

/** Upper bound of one backoff delay, including a server's `retry-after`. */
export const PROVIDER_RETRY_MAX_DELAY_MS = 8_000;

/** Model text kept in the document as the model's short answer. */
export const MAX_ANSWER_CHARS = 2_000;

/** Tokens (prompt + completion, as the endpoint reports them) one generation may spend in all its turns. */
export const MAX_TOKENS_PER_GENERATION = 120_000;

/** A reasoning model's thoughts kept in a cell's provenance (AiInfo.thoughts), all turns of one generation. */
export const MAX_THOUGHTS_CHARS = 16_000;

/** How often streamed thoughts are written into the document (slower than code: they are long). */
export const THOUGHTS_FLUSH_MS = 400;
