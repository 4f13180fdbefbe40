// The owner's Share dialog: make an editor or viewer link, copy it (its token is shown only in the
// answer that made it), see the notebook's links and revoke one. The server checks the role; this
// dialog opens only for the owner and the admin (decision 0011).
import { useCallback, useEffect, useId, useRef, useState } from 'react';
import { api, describeApiError, type LinkRole, type NewShareLink, type ShareLink } from '~/notebook/api-client';
import { relativeTime } from './ui/relative-time';
import { Icon } from './ui/icons';

const ROLE_CHOICES: { role: LinkRole; label: string; detail: string }[] = [
  { role: 'viewer', label: 'Can view', detail: 'sees cells, outputs and who is here, live; changes and runs nothing' },
  { role: 'editor', label: 'Can edit', detail: 'edits, runs, asks the AI, uploads and deletes files' },
];

const ROLE_NAMES: Record<LinkRole, string> = { viewer: 'Viewer', editor: 'Editor' };

/** How often "5 minutes ago" is brought up to date while the dialog is open. */
const CLOCK_TICK_MS = 30_000;

/** Copies text; where the Clipboard API is missing (plain http off localhost) it selects and copies. */
async function copyText(text: string, input: HTMLInputElement | null): Promise<boolean> {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // permission refused: fall back to the selection
  }
  if (!input) return false;
  input.focus();
  input.select();
  try {
    return document.execCommand('copy');
  } catch {
    return false;
  }
}

export function ShareDialog({ notebookId, notify, onClose }: { notebookId: string; notify: (message: string) => void; onClose: () => void }) {
  const titleId = useId();
  const [role, setRole] = useState<LinkRole>('viewer');
  const [links, setLinks] = useState<ShareLink[] | null>(null);
  const [created, setCreated] = useState<NewShareLink | null>(null);
  const [isCreating, setIsCreating] = useState(false);
  const [revoking, setRevoking] = useState<string | null>(null);
  const [copyState, setCopyState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const [now, setNow] = useState(() => Date.now());
  const urlRef = useRef<HTMLInputElement>(null);
  const firstRef = useRef<HTMLButtonElement>(null);
  const dialogRef = useRef<HTMLDivElement>(null);

  const load = useCallback(async () => {
    try {
      const { links } = await api.listLinks(notebookId);
      setLinks([...links].sort((a, b) => b.createdAt - a.createdAt));
      setNow(Date.now());
    } catch (err) {
      notify(`Could not list the links: ${describeApiError(err)}`);
      setLinks((list) => list ?? []);
    }
  }, [notebookId, notify]);

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), CLOCK_TICK_MS);
    return () => window.clearInterval(timer);
  }, []);

  // the dialog takes the keyboard from the cells (and from a focused editor) while it is open
  useEffect(() => {
    firstRef.current?.focus();
  }, []);

  // Esc closes it even when focus fell out of it (a revoked row's button went away with its row)
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;
  useEffect(() => {
    const onKeyDown = (e: KeyboardEvent) => {
      if (e.key !== 'Escape' || e.defaultPrevented) return;
      e.preventDefault();
      onCloseRef.current();
    };
    document.addEventListener('keydown', onKeyDown);
    return () => document.removeEventListener('keydown', onKeyDown);
  }, []);

  const create = async () => {
    setIsCreating(true);
    setCopyState('idle');
    try {
      const link = await api.createLink(notebookId, role);
      setCreated(link);
      await load();
      // ready to copy by hand too
      requestAnimationFrame(() => urlRef.current?.select());
    } catch (err) {
      notify(`Could not make the link: ${describeApiError(err)}`);
    } finally {
      setIsCreating(false);
    }
  };

  const copy = async () => {
    if (!created) return;
    const isCopied = await copyText(created.url, urlRef.current);
    setCopyState(isCopied ? 'copied' : 'failed');
    if (!isCopied) notify('Could not copy the link: select it and press Ctrl+C (⌘C).');
  };

  const revoke = async (link: ShareLink) => {
    const who = link.role === 'editor' ? 'edit' : 'view';
    if (!window.confirm(`Revoke this ${ROLE_NAMES[link.role].toLowerCase()} link? Everyone who opened the notebook with it can no longer ${who} it, at once.`)) return;
    setRevoking(link.id);
    try {
      await api.revokeLink(notebookId, link.id);
      if (created?.id === link.id) setCreated(null);
      await load();
      if (!dialogRef.current?.contains(document.activeElement)) dialogRef.current?.focus();
    } catch (err) {
      notify(`Could not revoke the link: ${describeApiError(err)}`);
    } finally {
      setRevoking(null);
    }
  };

  return (
    <div
      className="modal-backdrop"
      data-testid="share-dialog"
      onMouseDown={(e) => {
        if (e.target === e.currentTarget) onClose();
      }}
      onKeyDown={(e) => {
        // nothing typed here reaches the notebook's command keys
        e.stopPropagation();
        if (e.key === 'Escape') {
          e.preventDefault();
          onClose();
        } else if (e.key === 'Tab') {
          // keep Tab inside the dialog
          const focusable = Array.from(dialogRef.current?.querySelectorAll<HTMLElement>('button:not(:disabled), input, [tabindex="0"]') ?? []);
          if (!focusable.length) return;
          const first = focusable[0];
          const last = focusable[focusable.length - 1];
          if (e.shiftKey && document.activeElement === first) {
            e.preventDefault();
            last.focus();
          } else if (!e.shiftKey && document.activeElement === last) {
            e.preventDefault();
            first.focus();
          }
        }
      }}
    >
      <div className="modal share-modal" role="dialog" aria-modal="true" aria-labelledby={titleId} ref={dialogRef} tabIndex={-1}>
        <div className="share-head">
          <h2 id={titleId}>Share this notebook</h2>
          <button type="button" className="file-action" aria-label="Close" title="Close (Esc)" data-testid="share-close" onClick={onClose}>
            <Icon name="close" />
          </button>
        </div>
        <p className="muted share-intro">A link opens this notebook only, with the role you choose. Anyone who has the link gets that role.</p>

        <div className="share-roles" role="radiogroup" aria-label="Role of the new link">
          {ROLE_CHOICES.map((choice, i) => (
            <button
              key={choice.role}
              ref={i === 0 ? firstRef : undefined}
              type="button"
              role="radio"
              aria-checked={role === choice.role}
              className={`share-role${role === choice.role ? ' is-on' : ''}`}
              data-testid={`share-role-${choice.role}`}
              onClick={() => setRole(choice.role)}
            >
              <span className="share-role-label">{choice.label}</span>
              <span className="share-role-detail">{choice.detail}</span>
            </button>
          ))}
        </div>
        <div className="share-create-row">
          <button type="button" className="btn btn-primary" data-testid="share-create" disabled={isCreating} onClick={() => void create()}>
            <Icon name="link" />
            {isCreating ? 'Making the link…' : `Make a ${role} link`}
          </button>
        </div>

        {created ? (
          <div className="share-new" data-testid="share-new-link" data-role={created.role}>
            <label className="share-new-label" htmlFor={`${titleId}-url`}>
              New {created.role} link
            </label>
            <div className="share-url-row">
              <input
                id={`${titleId}-url`}
                ref={urlRef}
                className="text-input share-url"
                data-testid="share-url"
                value={created.url}
                readOnly
                spellCheck={false}
                onFocus={(e) => e.currentTarget.select()}
              />
              <button type="button" className={`btn${copyState === 'copied' ? ' is-copied' : ''}`} data-testid="share-copy" onClick={() => void copy()}>
                <Icon name="copy" />
                {copyState === 'copied' ? 'Copied' : 'Copy'}
              </button>
            </div>
            <p className="share-once" data-testid="share-once">
              Copy it now: it is shown only once. Later you can revoke it, not see it again.
            </p>
          </div>
        ) : null}

        <h3 className="share-list-title">Links</h3>
        {links === null ? (
          <p className="muted share-empty">Loading…</p>
        ) : links.length === 0 ? (
          <p className="muted share-empty" data-testid="share-no-links">
            No links yet. The owner's and the admin's access are not links and cannot be revoked.
          </p>
        ) : (
          <ul className="share-links" data-testid="share-links">
            {links.map((link) => (
              <li key={link.id} className="share-link" data-testid="share-link" data-link-id={link.id} data-role={link.role}>
                <span className={`role-pill role-${link.role}`}>{ROLE_NAMES[link.role]}</span>
                <span className="share-link-time" title={new Date(link.createdAt).toLocaleString()}>
                  made {relativeTime(link.createdAt, now)}
                  {created?.id === link.id ? <span className="share-link-new"> · new</span> : null}
                </span>
                <button
                  type="button"
                  className="btn btn-sm btn-danger-ghost"
                  data-testid="share-revoke"
                  disabled={revoking === link.id}
                  title="Revoke: whoever opened the notebook with this link is disconnected at once"
                  onClick={() => void revoke(link)}
                >
                  {revoking === link.id ? 'Revoking…' : 'Revoke'}
                </button>
              </li>
            ))}
          </ul>
        )}

        <div className="modal-actions">
          <button type="button" className="btn" data-testid="share-done" onClick={onClose}>
            Done
          </button>
        </div>
      </div>
    </div>
  );
}
