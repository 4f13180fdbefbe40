// The parts of an AI cell (a code cell with a `prompt`): the shared prompt box with Generate / Stop /
// Re-run, the status everyone sees, the model's answer, and the history of attempts.
import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type * as Y from 'yjs';
import { cellSource, replaceText, type YCell } from '../../common/notebook/model';
import { AI_CONTEXT_KEY, type AiAttempt, type AiInfo, type AiStatus } from '../../common/notebook/types';
import { ApiError, NOT_CONFIGURED_HINT, api, describeApiError } from '~/notebook/api-client';
import { useNotebook } from '~/notebook/notebook-context';
import { useYMapValue } from '~/notebook/use-cells';
import { mapOffset } from '~/notebook/caret';
import { NO_MODEL_TITLE } from './ask-bar';
import { renderMarkdown } from './markdown-view';
import { useMathReady } from './rich-text';
import { fileApiUrl } from '../../common/files/paths';
import { baseName } from '~/notebook/files-client';
import { Icon } from './ui/icons';

/** The model is writing this cell's code: the editor is read-only for everyone (decision 0005). */
export function isWritingStatus(status: AiStatus | undefined): boolean {
  return status === 'generating' || status === 'fixing';
}

/** The model is at work on this cell (Stop applies); in `answering` only its answer, not the code. */
export function isBusyStatus(status: AiStatus | undefined): boolean {
  return status === 'generating' || status === 'running' || status === 'fixing' || status === 'answering';
}

/** Origin of this browser's prompt edits, so the observer can tell them from remote ones. */
const PROMPT_ORIGIN = { name: 'ai-prompt' };

function fitHeight(el: HTMLTextAreaElement) {
  el.style.height = 'auto';
  el.style.height = `${el.scrollHeight + 2}px`;
}

export function statusText(ai: AiInfo): string {
  const by = ai.by?.name ? ` (asked by ${ai.by.name})` : '';
  switch (ai.status) {
    case 'generating':
      return `✎ writing code…${by}`;
    case 'running':
      return '▶ running';
    case 'fixing':
      return `↻ ${ai.detail || `fixing (attempt ${ai.attempt} of ${ai.maxAttempts})`}`;
    case 'answering':
      return '✎ writing the answer…';
    case 'done':
      return '✓ done';
    case 'failed':
      return `✗ failed${ai.detail ? `: ${ai.detail}` : ''}`;
    case 'stopped':
      return '■ stopped';
    default:
      return String(ai.status);
  }
}

/** The prompt box above the code, its buttons and the status line. */
export const AiPrompt = memo(function AiPrompt({ cell, cellId, prompt }: { cell: YCell; cellId: string; prompt: Y.Text }) {
  const { doc, notebookId, model, by, actions, canEdit, readOnlyReason } = useNotebook();
  const ai = useYMapValue<AiInfo>(cell, 'ai');
  const ref = useRef<HTMLTextAreaElement>(null);
  const [error, setError] = useState<string | null>(null);
  const [isSending, setIsSending] = useState(false);
  const hasModel = Boolean(model.model);
  const isBusy = isBusyStatus(ai?.status);

  // uncontrolled: the textarea's value follows the Y.Text, and local input writes a minimal diff
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.value = prompt.toString();
    fitHeight(el);
    const onChange = (event: Y.YTextEvent, tr: Y.Transaction) => {
      if (tr.origin === PROMPT_ORIGIN) return;
      const isFocused = document.activeElement === el;
      const start = mapOffset(el.selectionStart, event.delta);
      const end = mapOffset(el.selectionEnd, event.delta);
      el.value = prompt.toString();
      if (isFocused) el.setSelectionRange(start, end);
      fitHeight(el);
    };
    prompt.observe(onChange);
    return () => prompt.unobserve(onChange);
  }, [prompt]);

  useEffect(() => {
    if (actions.takePromptFocus(cellId)) ref.current?.focus();
  }, [actions, cellId]);

  const generate = async () => {
    if (!canEdit) {
      actions.explainReadOnly();
      return;
    }
    const text = ref.current?.value ?? prompt.toString();
    if (!hasModel) {
      setError(NO_MODEL_TITLE);
      return;
    }
    if (!text.trim()) {
      setError('Write what you want first, then Generate.');
      ref.current?.focus();
      return;
    }
    setError(null);
    setIsSending(true);
    try {
      await api.generate(notebookId, cellId, text, by());
    } catch (err) {
      setError(err instanceof ApiError && err.code === 'NOT_CONFIGURED' ? NOT_CONFIGURED_HINT : describeApiError(err));
    } finally {
      setIsSending(false);
    }
  };
  const stop = () => {
    api.stop(notebookId, cellId, by()).catch((err) => setError(describeApiError(err)));
  };

  const generateLabel = ai ? 'Regenerate' : 'Generate';
  return (
    <div className="ai-prompt" data-testid="ai-panel" onMouseDown={(e) => e.stopPropagation()} onClick={() => actions.isActive(cellId) || actions.select(cellId)}>
      <div className="ai-prompt-row">
        <span className="ai-mark" aria-hidden>
          <Icon name="sparkle" />
        </span>
        <textarea
          ref={ref}
          className="ai-prompt-input"
          data-testid="ai-prompt"
          rows={1}
          spellCheck={canEdit}
          readOnly={!canEdit}
          title={readOnlyReason ?? undefined}
          placeholder={!canEdit ? 'No prompt yet' : hasModel ? `Ask for something: "${model.suggestions?.[0] ?? 'plot revenue by month from sales.csv'}"…  (Enter to generate)` : 'Describe what you want (AI needs a configured model)'}
          aria-label="Prompt for the AI"
          onInput={(e) => {
            const el = e.currentTarget;
            // readOnly already stops typing; this keeps anything else from writing a viewer's text
            if (!canEdit) {
              el.value = prompt.toString();
              return;
            }
            doc.transact(() => replaceText(prompt, el.value), PROMPT_ORIGIN);
            fitHeight(el);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              if (!canEdit) actions.explainReadOnly();
              else if (!isBusy && !isSending) void generate();
            } else if (e.key === 'Escape') {
              e.preventDefault();
              actions.command();
            }
          }}
        />
      </div>
      <AiAttachments ai={ai} notebookId={notebookId} />
      <div className="ai-actions">
        <button
          type="button"
          className="btn btn-primary btn-sm"
          data-testid="ai-generate"
          disabled={!canEdit || !hasModel || isBusy || isSending}
          aria-disabled={!canEdit || !hasModel}
          title={readOnlyReason ?? (hasModel ? `${generateLabel} with ${model.model} (Enter)` : NO_MODEL_TITLE)}
          onClick={() => void generate()}
        >
          {generateLabel}
        </button>
        {isBusy ? (
          <button type="button" className="btn btn-sm" data-testid="ai-stop" title={readOnlyReason ?? 'Stop the model'} disabled={!canEdit} onClick={stop}>
            ■ Stop
          </button>
        ) : null}
        <button
          type="button"
          className="btn btn-sm"
          data-testid="ai-rerun"
          title={readOnlyReason ?? 'Run the code as it is, without the model'}
          disabled={isBusy || !canEdit}
          onClick={() => actions.run(cellId, cellSource(cell).toString())}
        >
          ▶ Re-run
        </button>
        {ai ? (
          <span className={`ai-status ai-${ai.status}`} data-testid="ai-status" data-status={ai.status} title={ai.detail}>
            {isBusy ? <span className="ai-spinner" aria-hidden /> : null}
            {statusText(ai)}
          </span>
        ) : null}
        {/* without a model the ask bar's notice says so, once for the page (NoModelNotice) */}
        {!(ai?.model ?? model.model) ? null : (
          <span className="ai-model" title={`model: ${ai?.model ?? model.model} @ ${ai?.endpoint ?? model.endpoint ?? ''}`}>
            model: {ai?.model ?? model.model}
            {(ai?.endpoint ?? model.endpoint) ? ` @ ${ai?.endpoint ?? model.endpoint}` : ''}
          </span>
        )}
      </div>
      {error ? (
        <div className="ai-error" role="alert" data-testid="ai-error">
          <span>{error}</span>
          <button type="button" className="toast-close" aria-label="Dismiss" onClick={() => setError(null)}>
            ×
          </button>
        </div>
      ) : null}
    </div>
  );
});

/** The files the request was asked with (the ask bar's attachments), each a download link. */
function AiAttachments({ ai, notebookId }: { ai: AiInfo | undefined; notebookId: string }) {
  // an imported notebook may hold anything here
  const paths = Array.isArray(ai?.attachments) ? ai.attachments.filter((p): p is string => typeof p === 'string') : [];
  if (!paths.length) return null;
  return (
    <ul className="ai-attachments" data-testid="ai-attachments" aria-label="Files attached to the request">
      {paths.map((p) => (
        <li key={p}>
          <a className="ask-chip is-done" data-testid="ai-attachment" href={fileApiUrl(notebookId, p)} download={baseName(p)} title={`Attached to the request: ${p} (download)`}>
            <Icon name="paperclip" />
            <span className="ask-chip-name">{p}</span>
          </a>
        </li>
      ))}
    </ul>
  );
}

/** "AI is writing (asked by X)" over a read-only editor while the model writes the code. */
export function AiWritingNotice({ ai }: { ai: AiInfo }) {
  return (
    <div className="ai-writing" data-testid="ai-writing">
      AI is writing{ai.by?.name ? ` (asked by ${ai.by.name})` : ''}: the code is read-only until it finishes
    </div>
  );
}

/**
 * A reasoning model's thoughts, folded away by default (they are long, and never code): the
 * summary says how long they are, and grows while the model thinks.
 */
export const AiThoughts = memo(function AiThoughts({ cell }: { cell: YCell }) {
  const ai = useYMapValue<AiInfo>(cell, 'ai');
  const thoughts = ai?.thoughts;
  if (!thoughts) return null;
  const isThinking = ai.status === 'generating' || ai.status === 'fixing';
  return (
    <div className="ai-thoughts-wrap" onMouseDown={(e) => e.stopPropagation()}>
      <details className="ai-thoughts" data-testid="ai-thoughts" data-length={thoughts.length}>
        <summary>
          Thoughts <span className="muted">({thoughts.length.toLocaleString('en-US')} characters{isThinking ? ', thinking…' : ''})</span>
        </summary>
        <pre className="ai-thoughts-text" data-testid="ai-thoughts-text">{thoughts}</pre>
      </details>
    </div>
  );
});

/** The model's short answer after it saw the output. */
export const AiAnswer = memo(function AiAnswer({ cell }: { cell: YCell }) {
  const { notebookId } = useNotebook();
  const ai = useYMapValue<AiInfo>(cell, 'ai');
  const answer = ai?.answer;
  const isMathReady = useMathReady();
  const html = useMemo(() => (answer ? renderMarkdown(answer, notebookId) : ''), [answer, notebookId, isMathReady]);
  if (!answer) return null;
  return (
    <div className="ai-answer" data-testid="ai-answer">
      <div className="ai-answer-label">answer{ai?.model ? ` · ${ai.model}` : ''}</div>
      <div className="ai-answer-body markdown-body" dangerouslySetInnerHTML={{ __html: html }} />
    </div>
  );
});

function formatTime(ms: number | undefined): string {
  return ms ? new Date(ms).toLocaleTimeString() : '';
}

function AttemptItem({ attempt, index, onRestore }: { attempt: AiAttempt; index: number; onRestore: (() => void) | null }) {
  const seconds = attempt.finishedAt ? ((attempt.finishedAt - attempt.startedAt) / 1000).toFixed(1) : null;
  return (
    <li className="ai-attempt" data-testid="ai-attempt" data-outcome={attempt.outcome ?? 'running'}>
      <div className="ai-attempt-head">
        <span>
          #{index + 1} · generation {attempt.generation}
        </span>
        <span className={`ai-outcome ai-outcome-${attempt.outcome ?? 'running'}`}>{attempt.outcome ?? 'running'}</span>
        <span className="muted">
          {formatTime(attempt.startedAt)}
          {seconds ? ` · ${seconds}s` : ''}
        </span>
        {onRestore ? (
          <button type="button" className="btn btn-sm" data-testid="ai-restore" onClick={onRestore} title="Put this code back into the cell">
            restore this code
          </button>
        ) : null}
      </div>
      {attempt.error ? <pre className="ai-attempt-error">{attempt.error}</pre> : null}
      <pre className="ai-attempt-code">{attempt.code}</pre>
    </li>
  );
}

/** Every attempt of every generation, and what the model was sent. */
export const AiHistory = memo(function AiHistory({ cell }: { cell: YCell }) {
  const { doc, canEdit } = useNotebook();
  const ai = useYMapValue<AiInfo>(cell, 'ai');
  const context = useYMapValue<string>(cell, AI_CONTEXT_KEY);
  const attempts = ai?.attempts ?? [];
  if (!attempts.length && !context) return null;
  return (
    <div className="ai-history-wrap" onMouseDown={(e) => e.stopPropagation()}>
      <details className="ai-history" data-testid="ai-history" data-count={attempts.length}>
        <summary>
          History ({attempts.length} attempt{attempts.length === 1 ? '' : 's'})
        </summary>
        <ol className="ai-attempts">
          {attempts.map((attempt, i) => (
            <AttemptItem key={i} attempt={attempt} index={i} onRestore={canEdit ? () => doc.transact(() => replaceText(cellSource(cell), attempt.code)) : null} />
          ))}
        </ol>
      </details>
      {context ? (
        <details className="ai-context" data-testid="ai-context">
          <summary>What the model saw</summary>
          <pre>{context}</pre>
        </details>
      ) : null}
    </div>
  );
});
