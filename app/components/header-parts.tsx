import { useEffect, useRef, useState } from 'react';
import type * as Y from 'yjs';
import { MAX_TITLE_LENGTH, metaOf, setTitle } from '../../common/notebook/model';
import type { KernelState, KernelStatus } from '../../common/notebook/types';
import type { ModelInfo } from '../../common/app-context';
import { NOT_CONFIGURED_HINT } from '~/notebook/api-client';
import { useYMapValue } from '~/notebook/use-cells';
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

const KERNEL_LABELS: Record<KernelStatus, string> = {
  starting: 'starting',
  idle: 'idle',
  busy: 'busy',
  restarting: 'restarting',
  dead: 'dead',
  unreachable: 'unreachable',
  'not-started': 'not started',
};

/** The shared kernel's status (from meta `kernel`), interrupt and restart. */
export function KernelControls({ doc, onInterrupt, onRestart }: { doc: Y.Doc | null; onInterrupt: () => void; onRestart: (confirmed: boolean) => void }) {
  const kernel = useYMapValue<KernelState>(doc ? metaOf(doc) : null, 'kernel');
  const status: KernelStatus = kernel?.status ?? 'not-started';
  const isBroken = status === 'dead' || status === 'unreachable';
  const tooltip = `Python kernel: ${KERNEL_LABELS[status]}${kernel?.detail ? ` · ${kernel.detail}` : ''}`;
  return (
    <div className="kernel-controls">
      <span className={`kernel-pill kernel-${status}`} data-testid="kernel-status" data-status={status} title={tooltip} role="status">
        <span className="kernel-dot" aria-hidden />
        kernel {KERNEL_LABELS[status]}
      </span>
      {isBroken ? (
        <button type="button" className="hbtn hbtn-danger" data-testid="restart-broken" title={kernel?.detail ?? 'Start a fresh kernel'} onClick={() => onRestart(true)}>
          Restart kernel
        </button>
      ) : null}
      <button type="button" className="hbtn hbtn-icon" data-testid="interrupt" title="Interrupt the kernel (stops the running cell, clears the queue)" aria-label="Interrupt" disabled={!doc} onClick={onInterrupt}>
        ■
      </button>
      <button type="button" className="hbtn hbtn-icon" data-testid="restart" title="Restart the kernel (variables are lost, outputs stay)" aria-label="Restart" disabled={!doc} onClick={() => onRestart(false)}>
        ↻
      </button>
    </div>
  );
}

export function ModelBadge({ model }: { model: ModelInfo }) {
  if (!model.model) {
    return (
      <span className="model-badge is-missing" data-testid="model-info" title={NOT_CONFIGURED_HINT}>
        no model
      </span>
    );
  }
  const where = model.endpoint ? ` @ ${model.endpoint}` : '';
  return (
    <span className="model-badge" data-testid="model-info" title={`AI cells use model: ${model.model}${where}`}>
      model: {model.model}
      <span className="model-endpoint">{where}</span>
    </span>
  );
}

export interface Toast {
  id: number;
  message: string;
}

/** Errors of API calls, until dismissed. */
export function Toasts({ toasts, onDismiss }: { toasts: Toast[]; onDismiss: (id: number) => void }) {
  if (!toasts.length) return null;
  return (
    <div className="toasts" aria-live="assertive">
      {toasts.map((t) => (
        <div key={t.id} className="toast" role="alert" data-testid="toast">
          <span className="toast-text">{t.message}</span>
          <button type="button" className="toast-close" aria-label="Dismiss" data-testid="toast-dismiss" onClick={() => onDismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
