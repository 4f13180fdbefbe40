import { useEffect, useRef, useState } from 'react';
import type * as Y from 'yjs';
import { MAX_TITLE_LENGTH, setTitle } from '../../common/notebook/model';
import { initials } from '~/notebook/identity';
import { CONNECTION_LABELS, type ConnectionState } from '~/notebook/use-notebook-doc';
import type { Peer } from '~/notebook/use-presence';

/** The notebook's title: edited locally, written to the shared doc on Enter or blur. */
export function TitleInput({ doc, title }: { doc: Y.Doc | null; title: string }) {
  const [draft, setDraft] = useState(title);
  const isEditingRef = useRef(false);
  useEffect(() => {
    if (!isEditingRef.current) setDraft(title);
  }, [title]);
  const commit = () => {
    isEditingRef.current = false;
    if (doc && draft.trim() !== title) setTitle(doc, draft);
    else setDraft(title);
  };
  return (
    <input
      className="nb-title"
      data-testid="title"
      aria-label="Notebook title"
      value={draft}
      maxLength={MAX_TITLE_LENGTH}
      disabled={!doc}
      spellCheck={false}
      onFocus={() => (isEditingRef.current = true)}
      onChange={(e) => setDraft(e.target.value)}
      onBlur={commit}
      onKeyDown={(e) => {
        if (e.key === 'Enter') e.currentTarget.blur();
        if (e.key === 'Escape') {
          isEditingRef.current = false;
          setDraft(title);
          requestAnimationFrame(() => (e.target as HTMLInputElement).blur());
        }
      }}
    />
  );
}

export function PresenceList({ peers, onRename }: { peers: Peer[]; onRename: () => void }) {
  return (
    <div className="presence" data-testid="presence" aria-label="People in this notebook">
      {peers.map((p) => (
        <button
          type="button"
          key={p.clientId}
          className={`avatar${p.isSelf ? ' is-self' : ''}`}
          style={{ background: p.user.color }}
          title={p.isSelf ? `${p.user.name} (you) · click to change your name` : p.user.name}
          data-testid="presence-user"
          data-name={p.user.name}
          onClick={p.isSelf ? onRename : undefined}
        >
          {initials(p.user.name)}
        </button>
      ))}
    </div>
  );
}

export function ConnectionStatus({ state }: { state: ConnectionState }) {
  return (
    <span className={`conn conn-${state}`} data-testid="connection-status" data-state={state} role="status">
      <span className="conn-dot" aria-hidden />
      {CONNECTION_LABELS[state]}
    </span>
  );
}

/** Edits are saved continuously; Ctrl/Cmd+S only flashes this to confirm it. */
export function SavedIndicator({ isSaved, flashKey }: { isSaved: boolean; flashKey: number }) {
  const [isFlashing, setIsFlashing] = useState(false);
  useEffect(() => {
    if (!flashKey) return;
    setIsFlashing(true);
    const t = setTimeout(() => setIsFlashing(false), 1800);
    return () => clearTimeout(t);
  }, [flashKey]);
  return (
    <span
      className={`saved${isSaved ? ' is-saved' : ' is-unsaved'}${isFlashing ? ' is-flashing' : ''}`}
      data-testid="saved-indicator"
      data-saved={isSaved ? 'true' : 'false'}
      aria-live="polite"
    >
      {isSaved ? (isFlashing ? '✓ saved' : 'all changes saved') : 'not saved yet: offline'}
    </span>
  );
}

export function NameDialog({ initialName, onSubmit, onCancel }: { initialName: string; onSubmit: (name: string) => void; onCancel?: () => void }) {
  const [name, setName] = useState(initialName);
  const inputRef = useRef<HTMLInputElement>(null);
  useEffect(() => inputRef.current?.focus(), []);
  return (
    <div className="modal-backdrop" data-testid="name-dialog">
      <form
        className="modal"
        onSubmit={(e) => {
          e.preventDefault();
          if (name.trim()) onSubmit(name);
        }}
        onKeyDown={(e) => {
          if (e.key === 'Escape' && onCancel) onCancel();
          e.stopPropagation();
        }}
      >
        <h2>What should we call you?</h2>
        <p className="muted">Others in this notebook see this name next to your cursor.</p>
        <input
          ref={inputRef}
          className="text-input"
          data-testid="name-input"
          value={name}
          maxLength={40}
          placeholder="Your name"
          onChange={(e) => setName(e.target.value)}
        />
        <div className="modal-actions">
          {onCancel ? (
            <button type="button" className="btn" onClick={onCancel}>
              Cancel
            </button>
          ) : null}
          <button type="submit" className="btn btn-primary" disabled={!name.trim()} data-testid="name-submit">
            Join notebook
          </button>
        </div>
      </form>
    </div>
  );
}
