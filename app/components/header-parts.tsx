import { useEffect, useRef, useState, type ReactNode } from 'react';
import type * as Y from 'yjs';
import { MAX_TITLE_LENGTH, metaOf, setTitle } from '../../common/notebook/model';
import type { KernelState, KernelStatus } from '../../common/notebook/types';
import type { KernelSandboxInfo, ModelInfo } from '../../common/app-context';
import { useYMapValue } from '~/notebook/use-cells';
import { initials } from '~/notebook/identity';
import { CONNECTION_LABELS, type ClosedInfo, type ConnectionState } from '~/notebook/use-notebook-doc';
import type { Peer } from '~/notebook/use-presence';
import { Icon } from './ui/icons';

/** The notebook's title: edited locally, written to the shared doc on Enter or blur. */
export function TitleInput({ doc, title, readOnlyReason = null }: { doc: Y.Doc | null; title: string; readOnlyReason?: string | null }) {
  const [draft, setDraft] = useState(title);
  const isEditingRef = useRef(false);
  useEffect(() => {
    if (!isEditingRef.current) setDraft(title);
  }, [title]);
  const commit = () => {
    isEditingRef.current = false;
    if (doc && !readOnlyReason && draft.trim() !== title) setTitle(doc, draft);
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
      readOnly={Boolean(readOnlyReason)}
      title={readOnlyReason ?? undefined}
      spellCheck={false}
      onFocus={() => (isEditingRef.current = !readOnlyReason)}
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

/** How many avatars a narrow header shows (app.css, "narrow layout"). */
const NARROW_AVATARS = 3;

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
      {/* a narrow header shows the first few avatars; this names the rest (app.css) */}
      {peers.length > NARROW_AVATARS ? (
        <span className="presence-more" data-testid="presence-more" title={peers.slice(NARROW_AVATARS).map((p) => p.user.name).join(', ')}>
          +{peers.length - NARROW_AVATARS}
        </span>
      ) : null}
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

/** The shared kernel's status (from meta `kernel`), with a one-click restart when it is dead or unreachable. */
export function KernelStatusPill({ doc, readOnlyReason = null, onRestart }: { doc: Y.Doc | null; readOnlyReason?: string | null; onRestart: (confirmed: boolean) => void }) {
  const canAct = Boolean(doc) && !readOnlyReason;
  const kernel = useYMapValue<KernelState>(doc ? metaOf(doc) : null, 'kernel');
  const status: KernelStatus = kernel?.status ?? 'not-started';
  const isBroken = status === 'dead' || status === 'unreachable';
  const tooltip = `Python kernel: ${KERNEL_LABELS[status]}${kernel?.detail ? ` · ${kernel.detail}` : ''}`;
  return (
    <div className="kernel-status">
      <span className={`kernel-pill kernel-${status}`} data-testid="kernel-status" data-status={status} title={tooltip} role="status">
        <span className="kernel-dot" aria-hidden />
        <span>
          <span className="kernel-word">kernel </span>
          {KERNEL_LABELS[status]}
        </span>
      </span>
      {isBroken && canAct ? (
        <button type="button" className="hbtn hbtn-danger" data-testid="restart-broken" title={kernel?.detail ?? 'Start a fresh kernel'} onClick={() => onRestart(true)}>
          Restart<span className="kernel-word"> kernel</span>
        </button>
      ) : null}
    </div>
  );
}

/** Interrupt and restart; icons in a wide header, labelled rows in the narrow header's menu. */
export function KernelActions({
  doc,
  readOnlyReason = null,
  onInterrupt,
  onRestart,
}: {
  doc: Y.Doc | null;
  /** why this browser may not interrupt or restart (a viewer link); null when it may */
  readOnlyReason?: string | null;
  onInterrupt: () => void;
  onRestart: (confirmed: boolean) => void;
}) {
  const canAct = Boolean(doc) && !readOnlyReason;
  return (
    <div className="kernel-controls">
      <button type="button" className="hbtn hbtn-icon" data-testid="interrupt" title={readOnlyReason ?? 'Interrupt the kernel (stops the running cell, clears the queue)'} aria-label="Interrupt" disabled={!canAct} onClick={onInterrupt}>
        ■<span className="hbtn-label nb-menu-only"> Interrupt the kernel</span>
      </button>
      <button type="button" className="hbtn hbtn-icon" data-testid="restart" title={readOnlyReason ?? 'Restart the kernel (variables are lost, outputs stay)'} aria-label="Restart" disabled={!canAct} onClick={() => onRestart(false)}>
        ↻<span className="hbtn-label nb-menu-only"> Restart the kernel</span>
      </button>
    </div>
  );
}

/**
 * The header's tools. Wide screens lay them out in the header itself (the wrapper takes no box);
 * narrow ones fold them into a menu behind one button, so the bar keeps the title, the kernel's
 * status, the connection and the people (app.css, "narrow layout"; decision 0014).
 */
export function HeaderMenu({ children }: { children: ReactNode }) {
  const [isOpen, setIsOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!isOpen) return;
    const onPointerDown = (e: PointerEvent) => {
      if (!ref.current?.contains(e.target as Node)) setIsOpen(false);
    };
    const onKeyDown = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setIsOpen(false);
    };
    document.addEventListener('pointerdown', onPointerDown);
    document.addEventListener('keydown', onKeyDown);
    return () => {
      document.removeEventListener('pointerdown', onPointerDown);
      document.removeEventListener('keydown', onKeyDown);
    };
  }, [isOpen]);
  return (
    <div ref={ref} className={`nb-menu${isOpen ? ' is-open' : ''}`}>
      <button
        type="button"
        className="hbtn nb-menu-toggle"
        data-testid="header-menu-toggle"
        aria-expanded={isOpen}
        aria-controls="nb-menu-panel"
        aria-label="Menu: run, kernel, files, share"
        title="Run, kernel, files, download, share"
        onClick={() => setIsOpen((open) => !open)}
      >
        <span aria-hidden>☰</span>
      </button>
      <div
        className="nb-menu-panel"
        id="nb-menu-panel"
        data-testid="header-menu"
        onClick={(e) => {
          // an action closes the menu; opening the Cells submenu does not
          const target = e.target as Element;
          if (target.closest('summary')) return;
          if (target.closest('button, a')) setIsOpen(false);
        }}
      >
        {children}
      </div>
    </div>
  );
}

export function ModelBadge({ model }: { model: ModelInfo }) {
  // no model: the ask bar says so, once for the whole page (NoModelNotice)
  if (!model.model) return null;
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

/** Shown to someone who opened the notebook with a viewer link. */
export function ViewOnlyBadge() {
  return (
    <span
      className="access-badge access-view-only"
      data-testid="view-only-badge"
      title="You have a view-only link: you see everything live (cells, outputs, who is here) and can download files and the .ipynb. Editing and running need an editor link from the owner."
    >
      <Icon name="eye" />
      View only
    </span>
  );
}

/** The embedded gateway runs kernels without bubblewrap here (the server logged why). */
export function SandboxBadge({ reason }: { reason?: string }) {
  const why = reason ? `Kernels are not sandboxed: ${reason}.` : 'Kernels are not sandboxed.';
  return (
    <span className="access-badge access-unsandboxed" data-testid="sandbox-badge" title={`${why} Kernel code can read this server's files.`}>
      <Icon name="warning" />
      not sandboxed
    </span>
  );
}

/** What network this notebook's kernel has (KERNEL_NETWORK): internet, none, or the host's (unsafe). */
export function KernelNetworkBadge({ network }: { network: NonNullable<KernelSandboxInfo['network']> }) {
  const isHost = network.kind === 'host';
  const what =
    network.kind === 'internet'
      ? "The kernel can reach the internet (pip install, downloads), but nothing on this server's machine."
      : network.kind === 'none'
        ? 'The kernel has no network: pip install from an index and downloads fail.'
        : "The kernel shares this server's network: it can reach and listen on this machine's loopback.";
  return (
    <span
      className={`access-badge ${isHost ? 'access-unsandboxed' : 'access-view-only'}`}
      data-testid="kernel-network"
      data-network={network.kind}
      title={`${network.label}. ${what}${network.reason ? ` (${network.reason})` : ''}`}
    >
      <Icon name={isHost ? 'warning' : 'link'} />
      {/* the header is crowded: the usual case in one word, the whole label in the title */}
      {network.kind === 'internet' ? 'Internet' : network.label}
    </span>
  );
}

export function ShareButton({ onClick }: { onClick: () => void }) {
  return (
    <button type="button" className="hbtn hbtn-share" data-testid="share-button" aria-label="Share" title="Share: make editor and viewer links, see and revoke them" onClick={onClick}>
      <Icon name="link" />
      <span className="hbtn-label">Share</span>
    </button>
  );
}

/** The server closed the connection for good: a revoked link, a notebook gone, a refused update. */
export function AccessLostBanner({ closed }: { closed: ClosedInfo }) {
  return (
    <div className={`access-lost${closed.isAccessLost ? ' is-access' : ''}`} role="alert" data-testid="access-lost" data-code={closed.code}>
      <Icon name="warning" />
      <span className="access-lost-text">
        <strong>{closed.isAccessLost ? 'Disconnected.' : 'Connection closed.'}</strong> {closed.message}
        {closed.isAccessLost ? ' What is on this page stays readable; ask the owner for a new link to follow it live again.' : ''}
      </span>
      {closed.isAccessLost ? null : (
        <button type="button" className="btn btn-sm" onClick={() => window.location.reload()}>
          Reload
        </button>
      )}
    </div>
  );
}
