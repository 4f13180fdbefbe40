// "Ask about your data…" at the bottom of the notebook, as in Code Interpreter: Enter makes a new
// AI cell below the selected one (or at the end) with the request, and generates it. The
// conversation is that sequence of AI cells, which everyone sees. Files attached with the
// paperclip (or dropped on the bar) upload into the working directory at once; Enter waits for
// them, and the request names them to the model. With the offline demo model, the requests it
// knows are offered as suggestions.
import { useRef, useState } from 'react';
import { NOT_CONFIGURED_HINT } from '~/notebook/api-client';
import { baseName, humanSize } from '~/notebook/files-client';
import { DROP_ZONE_ATTR } from '~/notebook/use-file-drop';
import type { Attachment, AttachmentsApi } from '~/notebook/use-attachments';
import { Icon } from './ui/icons';

/** The value of DROP_ZONE_ATTR on the ask bar: files dropped on it are attached, not just uploaded. */
export const ASK_DROP_ZONE = 'ask';

interface AskBarProps {
  hasModel: boolean;
  /** requests the model is known to answer (the offline demo's); empty for a real model */
  suggestions: string[];
  attachments: AttachmentsApi;
  /** files are being dragged over the bar */
  isDropTarget: boolean;
  /** makes the cell and starts the generation; resolves false when it could not */
  onAsk(prompt: string, attachments: string[]): Promise<boolean>;
}

function percent(a: Attachment): number {
  return a.size > 0 ? Math.min(100, Math.round((a.loaded / a.size) * 100)) : 100;
}

function AttachmentChip({ attachment: a, onRemove, onRetry }: { attachment: Attachment; onRemove(): void; onRetry(): void }) {
  const name = baseName(a.path);
  return (
    <li className={`ask-chip is-${a.status}`} data-testid="ask-attachment" data-path={a.path} data-status={a.status} title={a.error ?? a.path}>
      <Icon name="file" />
      <span className="ask-chip-name">{name}</span>
      <span className="ask-chip-size">{humanSize(a.size)}</span>
      {a.status === 'uploading' ? (
        <span className="ask-chip-progress" data-testid="ask-attachment-progress" role="progressbar" aria-valuenow={percent(a)} aria-valuemin={0} aria-valuemax={100} aria-label={`Uploading ${name}`}>
          <span style={{ width: `${percent(a)}%` }} />
        </span>
      ) : a.status === 'failed' ? (
        <button type="button" className="ask-chip-retry" data-testid="ask-attachment-retry" onClick={onRetry} title={`Upload failed: ${a.error ?? ''} Click to try again.`}>
          failed · retry
        </button>
      ) : (
        <span className="ask-chip-done" aria-label="uploaded">✓</span>
      )}
      <button type="button" className="ask-chip-remove" data-testid="ask-attachment-remove" aria-label={`Remove ${name}`} title={`Remove ${name} from this request`} onClick={onRemove}>
        ×
      </button>
    </li>
  );
}

export function AskBar({ hasModel, suggestions, attachments, isDropTarget, onAsk }: AskBarProps) {
  const [value, setValue] = useState('');
  const [isSending, setIsSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const fileInputRef = useRef<HTMLInputElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const list = attachments.list;
  const isUploading = list.some((a) => a.status === 'uploading');

  const submit = async (text = value) => {
    const prompt = text.trim();
    if (!prompt || isSending || !hasModel) return;
    setIsSending(true);
    setError(null);
    try {
      // the files first: the model must find them in the working directory
      const settled = await attachments.settle();
      const failed = settled.filter((a) => a.status === 'failed');
      if (failed.length) {
        const names = failed.map((a) => `"${baseName(a.path)}"`).join(', ');
        const why = failed.length === 1 ? `: ${failed[0].error ?? 'unknown error'}` : '';
        setError(`${names} could not be uploaded${why}. The request was not sent: retry or remove the file, then press Enter again.`);
        return;
      }
      if (await onAsk(prompt, settled.map((a) => a.path))) {
        setValue('');
        attachments.clear();
      }
    } finally {
      setIsSending(false);
    }
  };

  const placeholder = !hasModel
    ? 'Ask about your data… (needs a configured model)'
    : list.length
      ? `Ask about ${list.length === 1 ? baseName(list[0].path) : 'these files'}…  (Enter: a new AI cell below the selected one)`
      : suggestions.length
      ? `Ask about your data… e.g. "${suggestions[0]}"  (Enter: a new AI cell below the selected one)`
      : 'Ask about your data…  (Enter: a new AI cell below the selected one)';

  return (
    <form
      className={`ask-bar${isDropTarget ? ' is-drop-target' : ''}`}
      data-testid="ask-bar"
      {...{ [DROP_ZONE_ATTR]: hasModel ? ASK_DROP_ZONE : undefined }}
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      {hasModel && suggestions.length ? (
        <div className="ask-suggestions" data-testid="ask-suggestions">
          <span className="ask-suggestions-label" title="The offline demo model is a script, not a language model: it answers only these requests">
            The demo knows:
          </span>
          {suggestions.map((s) => (
            <button
              key={s}
              type="button"
              className="ask-suggestion"
              data-testid="ask-suggestion"
              disabled={isSending}
              title={`Ask "${s}"`}
              onClick={() => {
                setValue(s);
                void submit(s);
              }}
            >
              {s}
            </button>
          ))}
        </div>
      ) : null}
      {list.length ? (
        <ul className="ask-chips" data-testid="ask-attachments" aria-label="Files attached to this request">
          {list.map((a) => (
            <AttachmentChip key={a.key} attachment={a} onRemove={() => attachments.remove(a.key)} onRetry={() => attachments.retry(a.key)} />
          ))}
        </ul>
      ) : null}
      <div className="ask-row">
        <span className="ai-mark" aria-hidden>
          <Icon name="sparkle" />
        </span>
        <textarea
          ref={inputRef}
          className="ask-input"
          data-testid="ask-input"
          rows={1}
          value={value}
          disabled={!hasModel}
          placeholder={placeholder}
          title={hasModel ? undefined : NOT_CONFIGURED_HINT}
          aria-label="Ask the AI: makes a new AI cell"
          onChange={(e) => setValue(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              void submit();
            } else if (e.key === 'Escape') {
              e.currentTarget.blur();
            }
          }}
        />
        <input
          ref={fileInputRef}
          type="file"
          multiple
          hidden
          data-testid="ask-file-input"
          onChange={(e) => {
            const files = Array.from(e.currentTarget.files ?? []);
            e.currentTarget.value = '';
            if (files.length) attachments.add(files.map((file) => ({ file, path: file.name })));
            inputRef.current?.focus();
          }}
        />
        <button
          type="button"
          className="btn btn-sm ask-attach"
          data-testid="ask-attach"
          disabled={!hasModel}
          aria-label="Attach files"
          title={hasModel ? 'Attach files: they upload into the working directory, and the request names them (or drop files here)' : NOT_CONFIGURED_HINT}
          onClick={() => fileInputRef.current?.click()}
        >
          <Icon name="paperclip" />
        </button>
        <button type="submit" className="btn btn-primary btn-sm" data-testid="ask-submit" disabled={!hasModel || isSending || !value.trim()} title={hasModel ? (isUploading ? 'Ask: sent when the files are uploaded (Enter)' : 'Ask (Enter)') : NOT_CONFIGURED_HINT}>
          {isSending && isUploading ? 'Uploading…' : 'Ask'}
        </button>
      </div>
      {isDropTarget ? (
        <div className="ask-drop-hint" data-testid="ask-drop-hint" aria-hidden>
          <Icon name="paperclip" /> Drop to attach to your request
        </div>
      ) : null}
      {error ? (
        <div className="ask-error" role="alert" data-testid="ask-error">
          <span>{error}</span>
          <button type="button" className="toast-close" aria-label="Dismiss" onClick={() => setError(null)}>
            ×
          </button>
        </div>
      ) : null}
    </form>
  );
}
