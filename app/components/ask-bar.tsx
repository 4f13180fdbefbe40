// "Ask about your data…" at the bottom of the notebook, as in Code Interpreter: Enter makes a new
// AI cell below the selected one (or at the end) with the request, and generates it. The
// conversation is that sequence of AI cells, which everyone sees.
import { useState } from 'react';
import { Icon } from './ui/icons';

/**
 * What the AI controls say when no model is configured: they point here, where the page says it
 * once, with how to configure one (the ask bar stays in view at the bottom of the notebook).
 */
export const NO_MODEL_TITLE = 'AI is off: no language model is configured (see the notice at the bottom of the notebook)';

/** The one place on the page that says no model is configured, and how to configure one. */
export function NoModelNotice() {
  return (
    <p className="no-model-notice" data-testid="no-model-notice" role="note">
      <strong>AI is off: no language model is configured.</strong> Set <code>OPENAI_API_KEY</code> (and optionally{' '}
      <code>OPENAI_BASE_URL</code>, <code>OPENAI_MODEL</code>) in the server's environment and restart it. Editing and running code work
      without one.
    </p>
  );
}

interface AskBarProps {
  hasModel: boolean;
  /** makes the cell and starts the generation; resolves false when it could not */
  onAsk(prompt: string): Promise<boolean>;
}

export function AskBar({ hasModel, onAsk }: AskBarProps) {
  const [value, setValue] = useState('');
  const [isSending, setIsSending] = useState(false);
  const submit = async () => {
    const prompt = value.trim();
    if (!prompt || isSending || !hasModel) return;
    setIsSending(true);
    try {
      if (await onAsk(prompt)) setValue('');
    } finally {
      setIsSending(false);
    }
  };
  if (!hasModel) {
    return (
      <div className="ask-bar is-off" data-testid="ask-bar">
        <span className="ai-mark" aria-hidden>
          <Icon name="sparkle" />
        </span>
        <NoModelNotice />
      </div>
    );
  }
  return (
    <form
      className="ask-bar"
      data-testid="ask-bar"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <span className="ai-mark" aria-hidden>
        <Icon name="sparkle" />
      </span>
      <textarea
        className="ask-input"
        data-testid="ask-input"
        rows={1}
        value={value}
        placeholder="Ask about your data…  (Enter: a new AI cell below the selected one)"
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
      <button type="submit" className="btn btn-primary btn-sm" data-testid="ask-submit" disabled={isSending || !value.trim()} title="Ask (Enter)">
        Ask
      </button>
    </form>
  );
}
