// Reasoning models (DeepSeek-R1, Qwen3, QwQ... on Ollama, vLLM, llama.cpp) think aloud before they
// answer, in one of three forms:
// - a separate `reasoning_content` (DeepSeek, vLLM, llama.cpp) or `reasoning` (OpenRouter, Ollama's
//   OpenAI API) field of the stream delta: read by the provider, never part of the content;
// - `<think>…</think>` at the start of the content (Ollama, servers without a reasoning parser);
// - only `…</think>` when the chat template already opened the tag in the prompt (R1 distills).
// Thoughts are never code, even when they hold a fenced block: this module splits them out of the
// content as it streams, before anything looks for code in it.

export const THINK_OPEN = '<think>';
export const THINK_CLOSE = '</think>';

/** The longest end of `text` that is a proper start of `tag` (it may be completed by the next chunk). */
function heldTail(text: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, text.length); n > 0; n--) {
    if (tag.startsWith(text.slice(text.length - n))) return n;
  }
  return 0;
}

/**
 * Splits streamed content into thoughts and answer. A `<think>` tag counts only where nothing but
 * whitespace came before it in the answer (code that prints "<think>" stays code); a stray
 * `</think>` with no opening tag ends thoughts that began with the reply.
 */
export class ThinkSplitter {
  private _thoughts = '';
  private _answer = '';
  /** characters held back: maybe the start of a tag, or whitespace before a possible `<think>` */
  private pending = '';
  private isInThink = false;
  private hasSeenOpen = false;

  get thoughts(): string {
    return this._thoughts;
  }

  /** The answer so far (without thoughts and without characters held back). */
  get answer(): string {
    return this._answer;
  }

  /**
   * Adds a chunk of content. Returns true when text already handed out as answer turned out to be
   * thoughts (the unopened `</think>` form): the answer then got shorter.
   */
  push(chunk: string): boolean {
    let buf = this.pending + chunk;
    this.pending = '';
    while (buf.length > 0) {
      if (this.isInThink) {
        const close = buf.indexOf(THINK_CLOSE);
        if (close >= 0) {
          this._thoughts += buf.slice(0, close);
          buf = buf.slice(close + THINK_CLOSE.length);
          this.isInThink = false;
          continue;
        }
        const hold = heldTail(buf, THINK_CLOSE);
        this._thoughts += buf.slice(0, buf.length - hold);
        this.pending = buf.slice(buf.length - hold);
        return false;
      }
      if (this._answer.trim() === '') {
        // nothing but whitespace so far: a <think> may still open here
        const lead = buf.length - buf.trimStart().length;
        const rest = buf.slice(lead);
        if (rest.startsWith(THINK_OPEN)) {
          this.hasSeenOpen = true;
          if (this._thoughts) this._thoughts += '\n\n';
          this._answer = '';
          this.isInThink = true;
          buf = rest.slice(THINK_OPEN.length);
          continue;
        }
        if (rest === '' || THINK_OPEN.startsWith(rest)) {
          this.pending = buf;
          return false;
        }
      }
      const hold = this.hasSeenOpen ? 0 : heldTail(buf, THINK_CLOSE);
      this._answer += buf.slice(0, buf.length - hold);
      this.pending = buf.slice(buf.length - hold);
      buf = '';
    }
    return this.moveUnopenedThoughts();
  }

  /** The stream ended: whatever was held back is placed (an unclosed <think> stays thoughts). */
  end(): boolean {
    const rest = this.pending;
    this.pending = '';
    if (this.isInThink) this._thoughts += rest;
    else this._answer += rest;
    return this.moveUnopenedThoughts();
  }

  private moveUnopenedThoughts(): boolean {
    if (this.hasSeenOpen) return false;
    const close = this._answer.indexOf(THINK_CLOSE);
    if (close < 0) return false;
    this.hasSeenOpen = true; // one such block, at the start: later tags are the answer's own
    this._thoughts += (this._thoughts ? '\n\n' : '') + this._answer.slice(0, close);
    this._answer = this._answer.slice(close + THINK_CLOSE.length).replace(/^\s+/, '');
    return true;
  }
}

/** Thoughts cut to `max` characters (the start kept: it says the approach), with a visible notice. */
export function cutThoughts(thoughts: string, max: number): string {
  const t = thoughts.trim();
  if (t.length <= max) return t;
  return `${t.slice(0, max)}\n[… ${t.length - max} more characters of thoughts not kept]`;
}
