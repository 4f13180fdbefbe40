// The admin's list of notebooks on the home page: search by title as you type, last changed first,
// and on each row Rename (inline: Enter saves, Esc cancels; F2 on a row too), Duplicate and Delete
// (after a dialog that names the notebook). The server does the work (docs/decisions/0015); the
// list is the loader's, fetched again after every action and when the page comes back into view.
import { Link, useRevalidator } from '@remix-run/react';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { NotebookSummary } from '../../common/app-context';
import { checkTitle, MAX_TITLE_LENGTH } from '../../common/notebook/title';
import { api, ApiError, describeApiError } from '~/notebook/api-client';
import { ConfirmDialog } from './confirm-dialog';
import { Icon } from './ui/icons';
import { relativeTime } from './ui/relative-time';

/** Lower case, accents dropped: "Café" is found by "cafe". */
function fold(s: string): string {
  return s.normalize('NFKD').replace(/\p{M}/gu, '').toLocaleLowerCase();
}

/** Every word of the query appears in the title, in any order. */
export function matchesQuery(title: string, query: string): boolean {
  const words = fold(query).split(/\s+/).filter(Boolean);
  const folded = fold(title);
  return words.every((w) => folded.includes(w));
}

/** A server answer as a sentence: its own message for a 4xx (it says what was wrong), else the usual. */
function errorText(err: unknown): string {
  if (err instanceof ApiError && err.status >= 400 && err.status < 500) return err.message;
  return describeApiError(err);
}

/** "title is empty" -> "Title is empty." */
function sentence(message: string): string {
  const s = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

interface Notice {
  kind: 'ok' | 'error';
  text: string;
  /** a notebook to open from the notice (the new copy) */
  openId?: string;
}

interface Renaming {
  id: string;
  draft: string;
  error: string | null;
  isSaving: boolean;
}

export function NotebookList({ notebooks, now }: { notebooks: NotebookSummary[]; now: number }) {
  const revalidator = useRevalidator();
  const [query, setQuery] = useState('');
  const [renaming, setRenaming] = useState<Renaming | null>(null);
  /** titles just saved, shown until the list comes back with them */
  const [savedTitles, setSavedTitles] = useState<Record<string, string>>({});
  /** notebooks just deleted, hidden until the list comes back without them */
  const [removed, setRemoved] = useState<ReadonlySet<string>>(new Set());
  const [deleting, setDeleting] = useState<{ nb: NotebookSummary; isBusy: boolean; error: string | null } | null>(null);
  const [duplicatingId, setDuplicatingId] = useState<string | null>(null);
  const [newId, setNewId] = useState<string | null>(null);
  const [notice, setNotice] = useState<Notice | null>(null);

  // the loader's list is the truth again once it arrives
  useEffect(() => {
    setSavedTitles({});
    setRemoved(new Set());
  }, [notebooks]);

  // someone may have renamed, made or deleted notebooks while this tab was in the background
  const revalidate = revalidator.revalidate;
  useEffect(() => {
    const onVisible = () => {
      if (document.visibilityState === 'visible') revalidate();
    };
    window.addEventListener('focus', onVisible);
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      window.removeEventListener('focus', onVisible);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [revalidate]);

  const rows = useMemo(
    () =>
      notebooks
        .filter((nb) => !removed.has(nb.id))
        .map((nb) => ({ ...nb, title: savedTitles[nb.id] ?? nb.title }))
        .sort((a, b) => b.updatedAt - a.updatedAt),
    [notebooks, removed, savedTitles],
  );
  const shown = useMemo(() => (query.trim() ? rows.filter((nb) => matchesQuery(nb.title, query)) : rows), [rows, query]);

  const startRename = useCallback((nb: NotebookSummary) => {
    setNotice(null);
    setRenaming({ id: nb.id, draft: nb.title, error: null, isSaving: false });
  }, []);

  const saveRename = async (nb: NotebookSummary, draft: string) => {
    const checked = checkTitle(draft);
    if (!checked.ok) {
      setRenaming({ id: nb.id, draft, error: sentence(checked.message), isSaving: false });
      return;
    }
    if (checked.title === nb.title) {
      setRenaming(null);
      return;
    }
    setRenaming({ id: nb.id, draft, error: null, isSaving: true });
    try {
      const { title } = await api.renameNotebook(nb.id, checked.title);
      setSavedTitles((t) => ({ ...t, [nb.id]: title }));
      setRenaming(null);
      revalidate();
    } catch (err) {
      setRenaming({ id: nb.id, draft, error: `Could not rename: ${errorText(err)}`, isSaving: false });
    }
  };

  const duplicate = async (nb: NotebookSummary) => {
    setDuplicatingId(nb.id);
    setNotice(null);
    try {
      const copy = await api.duplicateNotebook(nb.id);
      setNewId(copy.id);
      setNotice({
        kind: 'ok',
        text: `Made “${copy.title}” with the cells, their outputs and the AI history. Files in the working directory of “${nb.title}” are not copied: upload them to the copy if its code reads them.`,
        openId: copy.id,
      });
      revalidate();
    } catch (err) {
      setNotice({ kind: 'error', text: `Could not duplicate “${nb.title}”: ${errorText(err)}` });
    } finally {
      setDuplicatingId(null);
    }
  };

  const confirmDelete = async () => {
    if (!deleting) return;
    const { nb } = deleting;
    setDeleting({ nb, isBusy: true, error: null });
    try {
      await api.deleteNotebook(nb.id);
      setRemoved((s) => new Set(s).add(nb.id));
      setDeleting(null);
      setNotice({ kind: 'ok', text: `Deleted “${nb.title}”.` });
      revalidate();
    } catch (err) {
      setDeleting({ nb, isBusy: false, error: `Could not delete it: ${errorText(err)}` });
    }
  };

  return (
    <section className="notebooks" aria-label="Notebooks">
      {rows.length > 0 ? (
        <div className="list-toolbar">
          <label className="search-box">
            <Icon name="search" />
            <input
              type="search"
              placeholder="Search notebooks by title"
              aria-label="Search notebooks"
              data-testid="notebook-search"
              value={query}
              autoComplete="off"
              spellCheck={false}
              onChange={(e) => setQuery(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === 'Escape' && query) {
                  e.preventDefault();
                  setQuery('');
                }
              }}
            />
          </label>
          <span className="list-count" data-testid="notebook-count" aria-live="polite">
            {query.trim() ? `${shown.length} of ${rows.length}` : rows.length} {rows.length === 1 ? 'notebook' : 'notebooks'} · last changed first
          </span>
        </div>
      ) : null}

      {notice ? (
        <div className={`home-notice is-${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'} data-testid="home-notice">
          <span className="home-notice-text">{notice.text}</span>
          {notice.openId ? (
            <Link to={`/n/${encodeURIComponent(notice.openId)}`} className="btn btn-sm" data-testid="home-notice-open">
              Open it
            </Link>
          ) : null}
          <button type="button" className="toast-close" aria-label="Dismiss" onClick={() => setNotice(null)}>
            ×
          </button>
        </div>
      ) : null}

      {rows.length === 0 ? (
        <EmptyList />
      ) : shown.length === 0 ? (
        <div className="empty no-match" data-testid="no-match">
          <p>
            No notebook matches “<strong>{query.trim()}</strong>”.
          </p>
          <p>
            <button type="button" className="btn btn-sm" onClick={() => setQuery('')}>
              Clear search
            </button>
          </p>
        </div>
      ) : (
        <ul className="notebook-list" data-testid="notebook-list">
          {shown.map((nb) => (
            <NotebookRow
              key={nb.id}
              nb={nb}
              now={now}
              isNew={nb.id === newId}
              renaming={renaming?.id === nb.id ? renaming : null}
              isDuplicating={duplicatingId === nb.id}
              onStartRename={() => startRename(nb)}
              onDraft={(draft) => setRenaming((r) => (r && r.id === nb.id ? { ...r, draft, error: null } : r))}
              onSaveRename={(draft) => void saveRename(nb, draft)}
              onCancelRename={() => setRenaming(null)}
              onDuplicate={() => void duplicate(nb)}
              onDelete={() => {
                setNotice(null);
                setDeleting({ nb, isBusy: false, error: null });
              }}
            />
          ))}
        </ul>
      )}

      {deleting ? (
        <ConfirmDialog
          testId="delete-dialog"
          title={`Delete “${deleting.nb.title}”?`}
          confirmLabel="Delete notebook"
          busyLabel="Deleting…"
          isBusy={deleting.isBusy}
          error={deleting.error}
          onConfirm={() => void confirmDelete()}
          onCancel={() => setDeleting(null)}
        >
          <p>
            Its cells and outputs, its share links and the files in its working directory are removed for everyone, and anyone who has it open
            is disconnected. This cannot be undone.
          </p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}

/** No notebook at all (the first visit, or the last one deleted). */
export function EmptyList() {
  return (
    <div className="empty" data-testid="no-notebooks">
      <p>No notebooks yet.</p>
      <p className="muted">Create one above, or import a Jupyter notebook; share its address and edit it together.</p>
    </div>
  );
}

interface RowProps {
  nb: NotebookSummary;
  now: number;
  isNew: boolean;
  renaming: Renaming | null;
  isDuplicating: boolean;
  onStartRename: () => void;
  onDraft: (draft: string) => void;
  onSaveRename: (draft: string) => void;
  onCancelRename: () => void;
  onDuplicate: () => void;
  onDelete: () => void;
}

function NotebookRow({ nb, now, isNew, renaming, isDuplicating, onStartRename, onDraft, onSaveRename, onCancelRename, onDuplicate, onDelete }: RowProps) {
  const linkRef = useRef<HTMLAnchorElement>(null);
  const wasRenaming = useRef(false);
  // back on the row once a rename ends, so the keyboard stays where it was
  useEffect(() => {
    if (renaming) wasRenaming.current = true;
    else if (wasRenaming.current) {
      wasRenaming.current = false;
      linkRef.current?.focus();
    }
  }, [renaming]);

  return (
    <li className={`notebook-row${isNew ? ' is-new' : ''}${renaming ? ' is-renaming' : ''}`} data-testid="notebook-row" data-notebook-id={nb.id}>
      {renaming ? (
        <RenameInput nb={nb} renaming={renaming} onDraft={onDraft} onSave={onSaveRename} onCancel={onCancelRename} />
      ) : (
        <Link
          ref={linkRef}
          to={`/n/${encodeURIComponent(nb.id)}`}
          className="notebook-link"
          onKeyDown={(e) => {
            if (e.key === 'F2') {
              e.preventDefault();
              onStartRename();
            }
          }}
        >
          <span className="notebook-icon" aria-hidden>
            ▤
          </span>
          <span className="notebook-title" data-testid="notebook-title">
            {nb.title}
          </span>
          {isNew ? <span className="new-pill">new copy</span> : null}
          <time className="notebook-time" dateTime={new Date(nb.updatedAt).toISOString()} title={new Date(nb.updatedAt).toUTCString()}>
            edited {relativeTime(nb.updatedAt, now)}
          </time>
        </Link>
      )}
      <div className="row-actions">
        <button type="button" className="row-btn" data-testid="rename-notebook" aria-label={`Rename “${nb.title}”`} title="Rename (F2)" disabled={Boolean(renaming)} onClick={onStartRename}>
          <Icon name="pencil" />
        </button>
        <button
          type="button"
          className="row-btn"
          data-testid="duplicate-notebook"
          aria-label={`Duplicate “${nb.title}”`}
          title="Duplicate: a new notebook with the same cells and outputs (not its files)"
          disabled={isDuplicating}
          onClick={onDuplicate}
        >
          {isDuplicating ? <span className="row-busy" aria-hidden /> : <Icon name="copy" />}
        </button>
        <button type="button" className="row-btn row-btn-danger" data-testid="delete-notebook" aria-label={`Delete “${nb.title}”`} title="Delete…" onClick={onDelete}>
          <Icon name="trash" />
        </button>
      </div>
    </li>
  );
}

function RenameInput({ nb, renaming, onDraft, onSave, onCancel }: { nb: NotebookSummary; renaming: Renaming; onDraft: (d: string) => void; onSave: (d: string) => void; onCancel: () => void }) {
  const inputRef = useRef<HTMLInputElement>(null);
  /** Enter or Esc already decided: the blur that follows does nothing */
  const isSettledRef = useRef(false);
  const errorId = `rename-error-${nb.id}`;

  useEffect(() => {
    inputRef.current?.focus();
    inputRef.current?.select();
  }, []);
  // a failed save leaves the field open for another try
  useEffect(() => {
    if (renaming.error) isSettledRef.current = false;
  }, [renaming.error]);

  return (
    <form
      className="rename-form"
      onSubmit={(e) => {
        e.preventDefault();
        isSettledRef.current = true;
        onSave(renaming.draft);
      }}
    >
      <span className="notebook-icon" aria-hidden>
        ▤
      </span>
      <div className="rename-field">
        <input
          ref={inputRef}
          className="text-input rename-input"
          data-testid="rename-input"
          aria-label={`New title for “${nb.title}”`}
          aria-invalid={Boolean(renaming.error)}
          aria-describedby={renaming.error ? errorId : undefined}
          value={renaming.draft}
          maxLength={MAX_TITLE_LENGTH}
          readOnly={renaming.isSaving}
          spellCheck={false}
          autoComplete="off"
          onChange={(e) => onDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Escape') {
              e.preventDefault();
              e.stopPropagation();
              isSettledRef.current = true;
              onCancel();
            }
          }}
          onBlur={() => {
            // leaving the field keeps what was typed, as the notebook's own title field does;
            // a title the server would refuse stays open with its reason
            if (isSettledRef.current || renaming.isSaving) return;
            if (renaming.draft.trim() === nb.title) onCancel();
            else onSave(renaming.draft);
          }}
        />
        {renaming.error ? (
          <span className="rename-error" id={errorId} role="alert" data-testid="rename-error">
            {renaming.error}
          </span>
        ) : (
          <span className="rename-hint">{renaming.isSaving ? 'Saving…' : 'Enter to save · Esc to cancel'}</span>
        )}
      </div>
    </form>
  );
}
