// "Ask about your data…" at the bottom of the notebook, as in Code Interpreter: Enter makes a new
// AI cell below the selected one (or at the end) with the request, and generates it. The
// conversation is that sequence of AI cells, which everyone sees.
import { useState } from 'react';
import { NOT_CONFIGURED_HINT } from '~/notebook/api-client';
import { Icon } from './ui/icons';

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
        disabled={!hasModel}
        placeholder={hasModel ? 'Ask about your data…  (Enter: a new AI cell below the selected one)' : 'Ask about your data… (needs a configured model)'}
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
      <button type="submit" className="btn btn-primary btn-sm" data-testid="ask-submit" disabled={!hasModel || isSending || !value.trim()} title={hasModel ? 'Ask (Enter)' : NOT_CONFIGURED_HINT}>
        Ask
      </button>
    </form>
  );
}
