// The notebook page once it runs in the browser: the shared document, who is here, the cells,
// and Jupyter's two-mode keyboard (command mode acts on cells, edit mode types into one).
import { Link } from '@remix-run/react';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  cellId as idOf,
  cellIndex,
  cellOutputs,
  cellsOf,
  cellToJSON,
  cellSource,
  cellType,
  deleteCell,
  findCell,
  insertCell,
  mergeCellBelow,
  moveCell,
  setCellType,
  splitCell,
  type YCell,
} from '../../common/notebook/model';
import type { Actor, CellJSON, CellType } from '../../common/notebook/types';
import type { KernelSandboxInfo, ModelInfo, ViewerInfo } from '../../common/app-context';
import { ApiError, api, describeApiError, VIEW_ONLY_REASON } from '~/notebook/api-client';
import { loadUser, saveUser, type LocalUser } from '~/notebook/identity';
import {
  NotebookContext,
  type FocusRequest,
  type Mode,
  type NotebookActions,
  type NotebookContextValue,
} from '~/notebook/notebook-context';
import { useCells, useTitle } from '~/notebook/use-cells';
import { useRenderedCount } from '~/notebook/use-progressive-cells';
import { useNotebookDoc } from '~/notebook/use-notebook-doc';
import { remoteCursorCss, useLocalPresence, usePeers, usePeersByCell } from '~/notebook/use-presence';
import { useUndo } from '~/notebook/use-undo';
import { exportUrl } from '~/notebook/files-client';
import { useFileDropZones } from '~/notebook/use-file-drop';
import { useAttachments } from '~/notebook/use-attachments';
import { useFiles, type FilesApi } from '~/notebook/use-files';
import { ASK_DROP_ZONE, AskBar, NO_MODEL_TITLE } from './ask-bar';
import { CellView } from './cell-view';
import { FilesPanel } from './files-panel';
import { FileLinksContext } from './outputs/file-links';
import {
  AccessLostBanner,
  ConnectionStatus,
  HeaderMenu,
  KernelActions,
  KernelStatusPill,
  ModelBadge,
  NameDialog,
  PresenceList,
  SandboxBadge,
  SavedIndicator,
  ShareButton,
  TitleInput,
  Toasts,
  ViewOnlyBadge,
  type Toast,
} from './header-parts';
import { ThemeToggle } from './theme-toggle';
import { ShareDialog } from './share-dialog';
import { Icon } from './ui/icons';

/** Two presses of D within this window delete the selected cell. */
export const DOUBLE_KEY_MS = 600;

/** an undo step's meta: the selection to restore when it is undone */
const UNDO_SELECTION = 'ynotebook.selection';

/** Where C / X keep copied cells: localStorage, so V pastes them in any notebook of this browser. */
export const CELL_CLIPBOARD_KEY = 'ynotebook.cell-clipboard';

function readCellClipboard(): CellJSON[] {
  try {
    const parsed = JSON.parse(window.localStorage.getItem(CELL_CLIPBOARD_KEY) ?? '[]') as unknown;
    return Array.isArray(parsed) ? parsed.filter((c): c is CellJSON => Boolean(c) && typeof c === 'object' && typeof (c as CellJSON).source === 'string') : [];
  } catch {
    return [];
  }
}

/** How often, and how far apart, the ask bar retries a generate that reached the server before its cell. */
const ASK_RETRIES = 20;
const ASK_RETRY_MS = 150;

/** Who asks, when this browser has no name yet (the name dialog is open). */
const ANONYMOUS: Actor = { name: 'Someone' };

function actorOf(user: LocalUser | null): Actor {
  return user ? { name: user.name, color: user.color } : ANONYMOUS;
}

function isTypingTarget(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  // the Files panel and the dialogs are places of their own: keys typed there never act on cells
  if (target.closest('.monaco-editor, [data-testid="name-dialog"], [data-testid="files-panel"], [data-testid="share-dialog"]')) return true;
  const tag = target.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || target.isContentEditable;
}

const NO_MODEL: ModelInfo = { model: null, endpoint: null };

/** "Files", the number of files once known, and the progress of this browser's uploads. */
function FilesToggle({ files, isOpen, canEdit, onToggle }: { files: FilesApi; isOpen: boolean; canEdit: boolean; onToggle: () => void }) {
  const uploading = files.uploads;
  const total = uploading.reduce((n, u) => n + u.size, 0);
  const loaded = uploading.reduce((n, u) => n + u.loaded, 0);
  const progress = uploading.length ? Math.min(100, Math.floor(total ? (loaded / total) * 100 : 0)) : null;
  return (
    <button
      type="button"
      className={`hbtn hbtn-files${isOpen ? ' is-on' : ''}`}
      data-testid="files-toggle"
      aria-pressed={isOpen}
      title={isOpen ? 'Hide the notebook\'s files' : canEdit ? 'Show the notebook\'s files: upload, download, delete' : 'Show the notebook\'s files, to download'}
      onClick={onToggle}
    >
      <Icon name="folder" />
      <span className="hbtn-label">Files</span>
      {files.files ? (
        <span className="hbtn-count" data-testid="files-count">
          {files.files.length}
        </span>
      ) : null}
      {progress !== null ? <span className="hbtn-progress" data-testid="files-toggle-progress">↑{progress}%</span> : null}
    </button>
  );
}

export type NotebookRole = NonNullable<ViewerInfo['role']>;

interface NotebookEditorProps {
  notebookId: string;
  initialTitle: string;
  model?: ModelInfo;
  /** what this page's credential may do here (the route's loader says; the server enforces it) */
  role?: NotebookRole;
  /** the kernels' sandbox; null when it is not ours to tell (an external gateway) */
  sandbox?: KernelSandboxInfo | null;
}

export function NotebookEditor({ notebookId, initialTitle, model = NO_MODEL, role = 'editor', sandbox = null }: NotebookEditorProps) {
  const { session, connection, isSynced, closed } = useNotebookDoc(notebookId);
  const doc = session?.doc ?? null;
  const awareness = session?.awareness ?? null;
  const { cells, generation } = useCells(doc);
  const renderedCount = useRenderedCount(cells.length, generation);
  const undoManager = useUndo(doc);
  const title = useTitle(doc) ?? initialTitle;

  const [user, setUser] = useState<LocalUser | null>(() => loadUser());
  const [isNaming, setIsNaming] = useState(false);
  const [activeId, setActiveId] = useState<string | null>(null);
  /** the other end of a Shift-extended selection (null: only the active cell is selected) */
  const [anchorId, setAnchorId] = useState<string | null>(null);
  const [mode, setMode] = useState<Mode>('command');
  const [markdownOpenId, setMarkdownOpenId] = useState<string | null>(null);
  const [saveFlash, setSaveFlash] = useState(0);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const userRef = useRef(user);
  userRef.current = user;
  const notify = useCallback((message: string) => {
    setToasts((list) => (list.some((t) => t.message === message) ? list : [...list.slice(-3), { id: Date.now() + Math.random(), message }]));
  }, []);
  // A viewer link reads everything live and changes nothing (the server drops its edits and
  // refuses its runs); once the server closed the connection for good, nothing typed is saved.
  const isViewer = role === 'viewer';
  const canEdit = !isViewer && !closed;
  const readOnlyReason = closed ? closed.message : isViewer ? VIEW_ONLY_REASON : null;
  const canEditRef = useRef(canEdit);
  canEditRef.current = canEdit;
  const readOnlyReasonRef = useRef(readOnlyReason);
  readOnlyReasonRef.current = readOnlyReason;
  const hasExplainedRef = useRef(false);
  const canShare = role === 'owner' || role === 'admin';
  const [isSharing, setIsSharing] = useState(false);
  const [isFilesOpen, setIsFilesOpen] = useState(false);
  const files = useFiles({ doc, notebookId, isOpen: isFilesOpen, notify });
  // a viewer's link reads and downloads files; uploads and deletes need an editor's
  const canEditFiles = canEdit;
  // files for the ask bar's request: uploaded at once, named to the model when it is sent
  const attachments = useAttachments({ notebookId, notify, onUploaded: files.refresh });
  // one drop, handled once: on the ask bar it attaches (and so uploads), anywhere else it uploads
  const { isDragging: isDraggingFiles, zone: dragZone } = useFileDropZones((requests, zone) => {
    if (zone === ASK_DROP_ZONE && canEditFiles) {
      attachments.add(requests);
      return;
    }
    setIsFilesOpen(true);
    if (canEditFiles) files.upload(requests);
    else notify(closed ? closed.message : 'You have a view-only link: uploading files needs an editor link.');
  });
  const isDraggingOnAsk = isDraggingFiles && dragZone === ASK_DROP_ZONE && canEditFiles;
  const by = useCallback(() => actorOf(userRef.current), []);

  const peers = usePeers(awareness);
  const peersByCell = usePeersByCell(peers);
  useLocalPresence(awareness, user, activeId);

  // Actions read the latest state through refs so they can stay one stable object.
  const rootRef = useRef<HTMLDivElement>(null);
  const activeRef = useRef<string | null>(null);
  const anchorRef = useRef<string | null>(null);
  const modeRef = useRef<Mode>('command');
  const lastIndexRef = useRef(0);
  const focusRequestRef = useRef<FocusRequest | null>(null);
  const promptFocusRef = useRef<string | null>(null);
  const scrollRequestRef = useRef<string | null>(null);
  const docRef = useRef(doc);
  docRef.current = doc;
  const undoRef = useRef(undoManager);
  undoRef.current = undoManager;

  const setAnchor = useCallback((id: string | null) => {
    anchorRef.current = id;
    setAnchorId(id);
  }, []);
  const setActive = useCallback((id: string | null, opts?: { extend?: boolean }) => {
    if (opts?.extend) {
      if (!anchorRef.current) setAnchor(activeRef.current);
    } else if (anchorRef.current) setAnchor(null);
    activeRef.current = id;
    setActiveId(id);
    setMarkdownOpenId((open) => (open === id ? open : null));
  }, []);
  const setModeBoth = useCallback((m: Mode) => {
    modeRef.current = m;
    setMode(m);
  }, []);

  const actions = useMemo<NotebookActions>(() => {
    const withDoc = <T,>(fn: (d: NonNullable<typeof doc>) => T): T | undefined => {
      const d = docRef.current;
      return d ? fn(d) : undefined;
    };
    /** a structural edit is its own undo step, never merged with typing around it */
    const step = <T,>(fn: () => T): T => {
      undoRef.current?.stopCapturing();
      const result = fn();
      undoRef.current?.stopCapturing();
      return result;
    };
    const focusRoot = () => rootRef.current?.focus({ preventScroll: true });
    const call = (p: Promise<unknown>) => p.catch((err) => notify(describeApiError(err)));
    /** true when this browser may change the document; otherwise says why (once) */
    const mayEdit = () => {
      if (canEditRef.current) return true;
      a.explainReadOnly();
      return false;
    };

    /** the selected cells' ids in document order: the active cell, or the range to the anchor */
    const selection = (): string[] => {
      const d = docRef.current;
      const active = activeRef.current;
      if (!d || !active) return [];
      const ids = cellsOf(d).toArray().map(idOf);
      const i = ids.indexOf(active);
      const j = anchorRef.current ? ids.indexOf(anchorRef.current) : -1;
      if (i < 0) return [];
      if (j < 0 || !canEditRef.current) return [active];
      return ids.slice(Math.min(i, j), Math.max(i, j) + 1);
    };
    const isMulti = () => selection().length > 1;

    const a: NotebookActions = {
      select(id, opts) {
        if (opts?.scroll) scrollRequestRef.current = id;
        // Shift+click and Shift+arrows extend the selection; a viewer only ever has one cell
        setActive(id, { extend: Boolean(opts?.extend) && canEditRef.current });
        setModeBoth('command');
      },
      selectedIds: selection,
      copy(opts) {
        if (!mayEdit()) return;
        const d = docRef.current;
        const ids = selection();
        if (!d || !ids.length) return;
        const json = ids.map((cid) => findCell(d, cid)).filter((c): c is NonNullable<typeof c> => Boolean(c)).map(cellToJSON);
        try {
          window.localStorage.setItem(CELL_CLIPBOARD_KEY, JSON.stringify(json));
        } catch {
          notify('Could not copy the cells: this browser\'s storage is full or off.');
          return;
        }
        if (opts?.cut) a.removeSelected();
      },
      paste() {
        if (!mayEdit()) return;
        const clip = readCellClipboard();
        if (!clip.length) return;
        const ids = selection();
        const newIds = withDoc((d) => {
          const last = ids.length ? cellIndex(d, ids[ids.length - 1]) : -1;
          const at = last < 0 ? cellsOf(d).length : last + 1;
          return step(() =>
            d.transact(() =>
              clip.map((c, k) =>
                // new ids: pasting twice, or into the notebook it came from, never duplicates one
                insertCell(d, at + k, { cell_type: c.cell_type, source: c.source, metadata: c.metadata, outputs: c.outputs, execution_count: c.execution_count ?? null, prompt: c.prompt, ai: c.ai }),
              ),
            ),
          );
        });
        if (!newIds?.length) return;
        a.select(newIds[newIds.length - 1], { scroll: true });
        if (newIds.length > 1) setAnchor(newIds[0]);
      },
      removeSelected() {
        if (!mayEdit()) return;
        const ids = selection();
        if (ids.length <= 1) {
          if (ids[0]) a.remove(ids[0]);
          return;
        }
        withDoc((d) => {
          const first = cellIndex(d, ids[0]);
          lastIndexRef.current = Math.max(0, first);
          const item = step(() => {
            d.transact(() => ids.forEach((cid) => deleteCell(d, cid)));
            return undoRef.current?.undoStack[undoRef.current.undoStack.length - 1];
          });
          item?.meta.set(UNDO_SELECTION, { active: activeRef.current, anchor: anchorRef.current });
          const cells = cellsOf(d);
          setActive(cells.length ? idOf(cells.get(Math.min(first, cells.length - 1))) : null);
          setModeBoth('command');
          focusRoot();
        });
      },
      runSelected(advance) {
        const ids = selection();
        if (ids.length <= 1) {
          const id = ids[0];
          const d = docRef.current;
          const cell = id && d ? findCell(d, id) : undefined;
          if (!cell) return;
          if (advance) a.runAndAdvance(id, cellSource(cell).toString());
          else a.run(id, cellSource(cell).toString());
          return;
        }
        if (!mayEdit()) return;
        const d = docRef.current;
        if (!d) return;
        const chosen = ids.map((cid) => findCell(d, cid)).filter((c): c is NonNullable<typeof c> => Boolean(c));
        const cells = chosen.filter((c) => cellType(c) === 'code').map((c) => ({ cellId: idOf(c), source: cellSource(c).toString() }));
        if (cells.length) call(api.runMany(notebookId, cells, actorOf(userRef.current)));
        setMarkdownOpenId(null);
        if (!advance) return a.command();
        const last = cellIndex(d, ids[ids.length - 1]);
        const all = cellsOf(d);
        if (last >= 0 && last + 1 < all.length) a.select(idOf(all.get(last + 1)), { scroll: true });
        else a.insert(ids[ids.length - 1], 'below', 'code', { edit: true });
      },
      mergeSelected() {
        if (!mayEdit()) return;
        const ids = selection();
        if (!ids.length) return;
        withDoc((d) =>
          step(() =>
            d.transact(() => {
              // one cell: merge the one below into it, as JupyterLab does
              const times = Math.max(1, ids.length - 1);
              for (let k = 0; k < times; k++) mergeCellBelow(d, ids[0]);
            }),
          ),
        );
        a.select(ids[0]);
        focusRoot();
      },
      edit(id, caret) {
        if (caret !== undefined) focusRequestRef.current = { cellId: id, caret };
        setActive(id);
        const cell = withDoc((d) => findCell(d, id));
        if (cell && cellType(cell) === 'markdown') setMarkdownOpenId(id);
        setModeBoth('edit');
      },
      command() {
        setModeBoth('command');
        focusRoot();
      },
      editorFocused(id, isFocused) {
        if (isFocused) {
          if (activeRef.current !== id || anchorRef.current) setActive(id);
          setModeBoth('edit');
        } else if (activeRef.current === id && modeRef.current === 'edit') {
          setModeBoth('command');
        }
      },
      insert(id, where, type = 'code', opts) {
        if (!mayEdit()) return;
        const newId = withDoc((d) => {
          const i = id ? cellIndex(d, id) : -1;
          const at = i < 0 ? cellsOf(d).length : where === 'above' ? i : i + 1;
          return step(() => insertCell(d, at, { cell_type: type }));
        });
        if (!newId) return;
        if (opts?.edit) a.edit(newId, 'start');
        else a.select(newId, { scroll: true });
        scrollRequestRef.current = newId;
      },
      remove(id) {
        if (!mayEdit()) return;
        withDoc((d) => {
          const i = cellIndex(d, id);
          if (i < 0) return;
          lastIndexRef.current = i;
          const item = step(() => {
            deleteCell(d, id);
            return undoRef.current?.undoStack[undoRef.current.undoStack.length - 1];
          });
          // undoing the delete selects the cell again (see the undo manager's listener below)
          item?.meta.set(UNDO_SELECTION, { active: id, anchor: null });
          const cells = cellsOf(d);
          const next = cells.length ? idOf(cells.get(Math.min(i, cells.length - 1))) : null;
          setActive(next);
          setModeBoth('command');
          focusRoot();
        });
      },
      move(id, delta) {
        if (!mayEdit()) return;
        const ids = selection();
        withDoc((d) => {
          if (ids.length > 1 && ids.includes(id)) {
            // the whole selection moves: the neighbour past its edge jumps to the other side
            const first = cellIndex(d, ids[0]);
            const last = cellIndex(d, ids[ids.length - 1]);
            const cells = cellsOf(d);
            if (delta < 0 && first > 0) step(() => moveCell(d, idOf(cells.get(first - 1)), last));
            if (delta > 0 && last + 1 < cells.length) step(() => moveCell(d, idOf(cells.get(last + 1)), first));
            scrollRequestRef.current = activeRef.current;
            return;
          }
          const i = cellIndex(d, id);
          if (i >= 0) step(() => moveCell(d, id, i + delta));
          scrollRequestRef.current = id;
        });
      },
      setType(id, type: CellType) {
        if (!mayEdit()) return;
        withDoc((d) => step(() => setCellType(d, id, type)));
        if (type === 'markdown' && activeRef.current === id && modeRef.current === 'edit') setMarkdownOpenId(id);
      },
      split(id, offset) {
        if (!mayEdit()) return;
        const newId = withDoc((d) => step(() => splitCell(d, id, offset)));
        if (newId) a.edit(newId, 'start');
      },
      mergeBelow(id) {
        if (!mayEdit()) return;
        withDoc((d) => step(() => mergeCellBelow(d, id)));
      },
      run(id, source) {
        const d = docRef.current;
        const cell = d && findCell(d, id);
        if (!cell) return;
        // rendering a markdown cell is this page's own business; running code is not a viewer's
        if (cellType(cell) === 'code' && !mayEdit()) return;
        if (cellType(cell) === 'code') call(api.run(notebookId, id, source, actorOf(userRef.current)));
        setMarkdownOpenId((open) => (open === id ? null : open));
        a.command();
      },
      runAndAdvance(id, source) {
        a.run(id, source);
        // a viewer runs nothing and adds no cell: Shift+Enter only renders a markdown cell
        if (!canEditRef.current) return;
        const d = docRef.current;
        if (!d) return;
        const i = cellIndex(d, id);
        const cells = cellsOf(d);
        if (i >= 0 && i + 1 < cells.length) a.select(idOf(cells.get(i + 1)), { scroll: true });
        else a.insert(id, 'below', 'code', { edit: true });
      },
      runAndInsert(id, source) {
        if (!mayEdit()) return;
        a.run(id, source);
        a.insert(id, 'below', 'code', { edit: true });
      },
      runMany(which, id) {
        if (!mayEdit()) return;
        const d = docRef.current;
        if (!d) return;
        const all = cellsOf(d).toArray();
        const at = id ? all.findIndex((c) => idOf(c) === id) : -1;
        const chosen = which === 'all' ? all : which === 'above' ? all.slice(0, Math.max(0, at)) : all.slice(Math.max(0, at));
        const cells = chosen.filter((c) => cellType(c) === 'code').map((c) => ({ cellId: idOf(c), source: cellSource(c).toString() }));
        if (cells.length) call(api.runMany(notebookId, cells, actorOf(userRef.current)));
      },
      insertAi(id) {
        if (!mayEdit()) return;
        // without a model the cell is still made (its Generate says why it is off); the ask bar's notice says how to configure one
        const newId = withDoc((d) => {
          const i = id ? cellIndex(d, id) : -1;
          const at = i < 0 ? cellsOf(d).length : i + 1;
          return step(() => insertCell(d, at, { cell_type: 'code', prompt: '' }));
        });
        if (!newId) return;
        promptFocusRef.current = newId;
        a.select(newId, { scroll: true });
      },
      interrupt() {
        if (!mayEdit()) return;
        call(api.interrupt(notebookId, actorOf(userRef.current)));
      },
      restart(opts) {
        if (!mayEdit()) return;
        if (!opts?.confirmed && !window.confirm('Restart the kernel? Its variables are lost; outputs stay.')) return;
        call(api.restart(notebookId, actorOf(userRef.current)));
      },
      restartAndRunAll(opts) {
        if (!mayEdit()) return;
        if (!opts?.confirmed && !window.confirm('Restart the kernel and run all cells? Its variables are lost.')) return;
        call(api.restart(notebookId, actorOf(userRef.current)).then(() => a.runMany('all')));
      },
      clearOutputs(which) {
        if (!mayEdit()) return;
        withDoc((d) => {
          const ids = which === 'all' ? cellsOf(d).toArray().map(idOf) : selection();
          step(() =>
            d.transact(() => {
              for (const cid of ids) {
                const cell = findCell(d, cid);
                const outputs = cell && cellType(cell) === 'code' ? cellOutputs(cell) : undefined;
                if (!cell || !outputs) continue;
                if (outputs.length) outputs.delete(0, outputs.length);
                if (cell.get('execution_count') != null) cell.set('execution_count', null);
              }
            }),
          );
        });
      },
      takePromptFocus(id) {
        if (promptFocusRef.current !== id) return false;
        promptFocusRef.current = null;
        return true;
      },
      selectAdjacent(delta, opts) {
        const d = docRef.current;
        const current = activeRef.current;
        if (!d || !current) return;
        const i = cellIndex(d, current);
        const cells = cellsOf(d);
        const j = i + delta;
        if (i < 0 || j < 0 || j >= cells.length) return;
        const next = idOf(cells.get(j));
        scrollRequestRef.current = next;
        if (opts?.extend) a.select(next, { scroll: true, extend: true });
        else if (opts?.edit && cellType(cells.get(j)) !== 'markdown') a.edit(next, delta < 0 ? 'end' : 'start');
        else a.select(next, { scroll: true });
      },
      undo() {
        if (!mayEdit()) return;
        undoRef.current?.undo();
      },
      redo() {
        if (!mayEdit()) return;
        undoRef.current?.redo();
      },
      save() {
        setSaveFlash((n) => n + 1);
      },
      takeFocusRequest(id) {
        const request = focusRequestRef.current;
        if (!request || request.cellId !== id) return null;
        focusRequestRef.current = null;
        return request;
      },
      isActive(id) {
        return activeRef.current === id;
      },
      isMultiSelected: isMulti,
      mode() {
        return modeRef.current;
      },
      explainReadOnly() {
        if (hasExplainedRef.current || canEditRef.current) return;
        hasExplainedRef.current = true;
        notify(readOnlyReasonRef.current ?? VIEW_ONLY_REASON);
      },
    };
    return a;
  }, [notebookId, model.model, notify, setActive, setAnchor, setModeBoth]);

  // undoing a cell delete selects the restored cell(s) again
  useEffect(() => {
    if (!undoManager) return;
    const onPopped = (e: { stackItem: { meta: Map<unknown, unknown> }; type: 'undo' | 'redo' }) => {
      const sel = e.stackItem.meta.get(UNDO_SELECTION) as { active: string | null; anchor: string | null } | undefined;
      const d = docRef.current;
      if (e.type !== 'undo' || !sel?.active || !d || cellIndex(d, sel.active) < 0) return;
      setActive(sel.active);
      if (sel.anchor && cellIndex(d, sel.anchor) >= 0) setAnchor(sel.anchor);
      scrollRequestRef.current = sel.active;
    };
    undoManager.on('stack-item-popped', onPopped);
    return () => undoManager.off('stack-item-popped', onPopped);
  }, [undoManager, setActive, setAnchor]);

  // keep a cell selected: the first on open, a neighbour when the selected one is deleted (by anyone)
  useEffect(() => {
    if (cells.length === 0) {
      if (activeRef.current) setActive(null);
      return;
    }
    const current = activeRef.current;
    const i = current ? cells.findIndex((c) => idOf(c) === current) : -1;
    if (i >= 0) {
      lastIndexRef.current = i;
      return;
    }
    const fallback = current ? Math.min(lastIndexRef.current, cells.length - 1) : 0;
    const first = cells[0];
    // A new notebook (one empty code cell) opens ready to type, as Jupyter's does: its first
    // keystrokes are code, not command keys (issue 9: "import pandas" made an AI cell).
    if (!current && isFreshNotebook(cells) && canEditRef.current && userRef.current) {
      actions.edit(idOf(first), 'end');
      return;
    }
    setActive(idOf(cells[fallback]));
    if (modeRef.current === 'edit') setModeBoth('command');
  }, [cells, actions, setActive, setModeBoth]);

  useEffect(() => {
    const id = scrollRequestRef.current;
    if (!id) return;
    scrollRequestRef.current = null;
    const el = rootRef.current?.querySelector(`[data-cell-id="${CSS.escape(id)}"]`);
    el?.scrollIntoView({ block: 'nearest' });
  });

  useEffect(() => {
    document.title = title;
  }, [title]);

  // command mode keys; edit mode keys are Monaco commands (code-editor.tsx)
  useEffect(() => {
    let lastD = 0;
    const onKeyDown = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      if (mod && !e.altKey && e.key.toLowerCase() === 's') {
        e.preventDefault();
        actions.save();
        return;
      }
      if (isNaming || isSharing || isTypingTarget(e.target) || e.defaultPrevented) return;
      const id = activeRef.current;
      const d = docRef.current;
      if (!id || !d) return;
      // edit mode before the cell's editor has the keyboard (Monaco still loading on a new
      // notebook): what is typed goes into the cell, never to the command keys
      if (modeRef.current === 'edit' && !mod && !e.altKey && canEditRef.current) {
        const cell = findCell(d, id);
        if (cell && cellType(cell) === 'code' && !e.isComposing) {
          const text = cellSource(cell);
          const typed = e.key === 'Enter' ? '\n' : e.key === 'Tab' ? '    ' : e.key.length === 1 ? e.key : null;
          if (typed !== null) {
            e.preventDefault();
            d.transact(() => text.insert(text.length, typed));
            focusRequestRef.current = { cellId: id, caret: 'end' };
            return;
          }
          if (e.key === 'Backspace') {
            e.preventDefault();
            if (text.length) d.transact(() => text.delete(text.length - 1, 1));
            return;
          }
        }
      }
      const source = () => {
        const cell = findCell(d, id);
        return cell ? cellSource(cell).toString() : '';
      };
      let handled = true;
      const multi = modeRef.current === 'command' && actions.isMultiSelected();
      if (e.key === 'Enter' && e.shiftKey) multi ? actions.runSelected(true) : actions.runAndAdvance(id, source());
      else if (e.key === 'Enter' && mod) multi ? actions.runSelected(false) : actions.run(id, source());
      else if (e.key === 'Enter' && e.altKey) actions.runAndInsert(id, source());
      else if (mod || e.altKey) handled = false;
      else if (e.key === 'Enter') actions.edit(id);
      else if ((e.key === 'ArrowUp' || e.key === 'K') && e.shiftKey) canEditRef.current ? actions.selectAdjacent(-1, { extend: true }) : actions.selectAdjacent(-1);
      else if ((e.key === 'ArrowDown' || e.key === 'J') && e.shiftKey) canEditRef.current ? actions.selectAdjacent(1, { extend: true }) : actions.selectAdjacent(1);
      else if (e.key === 'ArrowUp' || e.key === 'k') actions.selectAdjacent(-1);
      else if (e.key === 'ArrowDown' || e.key === 'j') actions.selectAdjacent(1);
      else if (!canEditRef.current && (e.key === 'c' || e.key === 'x' || e.key === 'v' || e.key === 'M')) handled = false;
      else if (e.key === 'c') actions.copy();
      else if (e.key === 'x') actions.copy({ cut: true });
      else if (e.key === 'v') actions.paste();
      else if (e.key === 'M') actions.mergeSelected();
      else if (e.key === 'a' || e.key === 'A') actions.insert(id, 'above');
      else if (e.key === 'b' || e.key === 'B') actions.insert(id, 'below');
      else if (e.key === 'm') actions.setType(id, 'markdown');
      else if (e.key === 'y' || e.key === 'Y') actions.setType(id, 'code');
      else if (e.key === 'r' || e.key === 'R') actions.setType(id, 'raw');
      else if (e.key === 'i' || e.key === 'I') actions.insertAi(id);
      else if (e.key === 'z') actions.undo();
      else if (e.key === 'Z') actions.redo();
      else if (e.key === 'd' || e.key === 'D') {
        const now = Date.now();
        if (now - lastD < DOUBLE_KEY_MS) {
          lastD = 0;
          actions.removeSelected();
        } else lastD = now;
      } else if (e.key === 'Escape') actions.command();
      else handled = false;
      if (handled) e.preventDefault();
    };
    document.addEventListener('keydown', onKeyDown);
    return () => document.removeEventListener('keydown', onKeyDown);
  }, [actions, isNaming, isSharing]);

  // the ask bar: a new AI cell below the selected one (or at the end), generated at once
  const ask = useCallback(
    async (prompt: string, attached: string[] = []): Promise<boolean> => {
      const d = docRef.current;
      if (!d || !canEditRef.current) return false;
      undoManager?.stopCapturing();
      const i = activeRef.current ? cellIndex(d, activeRef.current) : -1;
      const at = i < 0 ? cellsOf(d).length : i + 1;
      const newId = insertCell(d, at, { cell_type: 'code', prompt });
      undoManager?.stopCapturing();
      actions.select(newId, { scroll: true });
      // the new cell reaches the server over the sync socket, which may come after this request
      for (let attempt = 0; ; attempt++) {
        try {
          await api.generate(notebookId, newId, prompt, actorOf(userRef.current), attached);
          return true;
        } catch (err) {
          if (err instanceof ApiError && err.status === 404 && attempt < ASK_RETRIES) {
            await new Promise((r) => setTimeout(r, ASK_RETRY_MS));
            continue;
          }
          notify(describeApiError(err));
          return true;
        }
      }
    },
    [actions, notebookId, notify, undoManager],
  );

  const context = useMemo<NotebookContextValue | null>(
    () => (doc && awareness && undoManager ? { doc, awareness, undoManager, actions, notebookId, model, by, notify, canEdit, readOnlyReason } : null),
    [doc, awareness, undoManager, actions, notebookId, model, by, notify, canEdit, readOnlyReason],
  );

  const isSaved = isSynced && connection === 'connected';
  const cursorCss = useMemo(() => remoteCursorCss(peers), [peers]);
  const needsName = !user || isNaming;
  const seen = new Set<string>();
  const selectedSet = useMemo(() => {
    if (!anchorId || !activeId || !canEdit) return null;
    const ids = cells.map(idOf);
    const i = ids.indexOf(activeId);
    const j = ids.indexOf(anchorId);
    if (i < 0 || j < 0 || i === j) return null;
    return new Set(ids.slice(Math.min(i, j), Math.max(i, j) + 1));
  }, [cells, activeId, anchorId, canEdit]);

  return (
    <div
      className={`notebook-page${isFilesOpen ? ' has-files-panel' : ''}${canEdit ? '' : ' is-read-only'}`}
      data-testid="notebook"
      data-mode={mode}
      data-role={role}
      data-can-edit={canEdit ? 'true' : 'false'}
      ref={rootRef}
      tabIndex={-1}
    >
      <style data-testid="remote-cursor-styles">{cursorCss}</style>
      <header className="nb-header">
        <Link to="/" className="brand brand-small" title="All notebooks">
          <span className="brand-mark">[ ]</span>
        </Link>
        <TitleInput doc={doc} title={title} readOnlyReason={readOnlyReason} />
        {isViewer ? <ViewOnlyBadge /> : null}
        {sandbox && !sandbox.active ? <SandboxBadge reason={sandbox.reason} /> : null}
        {/* on narrow screens the tools below fold into one menu (HeaderMenu, decision 0014) */}
        <KernelStatusPill doc={doc} readOnlyReason={readOnlyReason} onRestart={(confirmed) => actions.restart({ confirmed })} />
        <ConnectionStatus state={connection} />
        <PresenceList peers={peers} onRename={() => setIsNaming(true)} />
        <ThemeToggle />
        <HeaderMenu>
          <div className="nb-run-controls">
            <button type="button" className="hbtn" data-testid="run-all" title={readOnlyReason ?? 'Run all cells'} onClick={() => actions.runMany('all')} disabled={!doc || !canEdit}>
              ▶▶ Run all
            </button>
            {canEdit ? (
              <>
                <button type="button" className="hbtn" data-testid="run-above" title="Run the cells above the selected one" onClick={() => actions.runMany('above', activeRef.current)} disabled={!doc || !activeId}>
                  Run above
                </button>
                <button type="button" className="hbtn" data-testid="run-below" title="Run the selected cell and those below it" onClick={() => actions.runMany('below', activeRef.current)} disabled={!doc || !activeId}>
                  Run below
                </button>
                <button
                  type="button"
                  className="hbtn hbtn-ai"
                  data-testid="new-ai-cell"
                  title={model.model ? 'Insert an AI cell below the selected one (I)' : NO_MODEL_TITLE}
                  onClick={() => actions.insertAi(activeRef.current)}
                  disabled={!doc || !model.model}
                >
                  <Icon name="sparkle" /> New AI cell
                </button>
              </>
            ) : null}
            {canEdit ? (
              <details className="hmenu" data-testid="cells-menu">
                <summary className="hbtn" title="Clear outputs, restart and run all">
                  Cells ▾
                </summary>
                <div className="hmenu-list" role="menu">
                  <button type="button" role="menuitem" className="hmenu-item" data-testid="clear-outputs" disabled={!doc || !activeId} onClick={(e) => { actions.clearOutputs('selected'); (e.currentTarget.closest('details') as HTMLDetailsElement | null)?.removeAttribute('open'); }}>
                    Clear outputs of selected cell{selectedSet && selectedSet.size > 1 ? 's' : ''}
                  </button>
                  <button type="button" role="menuitem" className="hmenu-item" data-testid="clear-all-outputs" disabled={!doc} onClick={(e) => { actions.clearOutputs('all'); (e.currentTarget.closest('details') as HTMLDetailsElement | null)?.removeAttribute('open'); }}>
                    Clear all outputs
                  </button>
                  <button type="button" role="menuitem" className="hmenu-item" data-testid="restart-run-all" disabled={!doc} onClick={(e) => { (e.currentTarget.closest('details') as HTMLDetailsElement | null)?.removeAttribute('open'); actions.restartAndRunAll(); }}>
                    Restart kernel and run all
                  </button>
                </div>
              </details>
            ) : null}
          </div>
          <KernelActions doc={doc} readOnlyReason={readOnlyReason} onInterrupt={() => actions.interrupt()} onRestart={(confirmed) => actions.restart({ confirmed })} />
          <div className="nb-header-right">
            <div className="nb-file-controls">
              <FilesToggle files={files} isOpen={isFilesOpen} canEdit={canEditFiles} onToggle={() => setIsFilesOpen((open) => !open)} />
              <a className="hbtn hbtn-link" href={exportUrl(notebookId)} download data-testid="download-ipynb" aria-label="Download .ipynb" title="Download this notebook as a Jupyter .ipynb file (opens in JupyterLab)">
                <Icon name="download" />
                <span className="hbtn-label">.ipynb</span>
              </a>
            </div>
            <ModelBadge model={model} />
            {isViewer ? null : <SavedIndicator isSaved={isSaved} flashKey={saveFlash} />}
          </div>
          {canShare ? <ShareButton onClick={() => setIsSharing(true)} /> : null}
        </HeaderMenu>
      </header>
      {closed ? <AccessLostBanner closed={closed} /> : null}

      <main className={`nb-cells mode-${mode}`}>
        {context ? (
          <NotebookContext.Provider value={context}>
            <FileLinksContext.Provider value={notebookId}>
            {cells.length === 0 ? (
              <div className="nb-empty">{isSynced ? 'This notebook has no cells.' : 'Loading notebook…'}</div>
            ) : (
              // remounted whole when many cells arrive at once (see useCells)
              <div className="cell-list" key={generation}>
              {(renderedCount < cells.length ? cells.slice(0, renderedCount) : cells).map((cell) => {
                const id = idOf(cell);
                // two people moving the same cell at once can leave a duplicate id for a moment
                let key = id;
                for (let n = 1; seen.has(key); n++) key = `${id}#${n}`;
                seen.add(key);
                const isActive = id === activeId;
                return (
                  <CellView
                    key={key}
                    cell={cell}
                    isActive={isActive}
                    isSelected={selectedSet?.has(id) ?? false}
                    isEditing={isActive && mode === 'edit'}
                    isMarkdownOpen={isActive && markdownOpenId === id}
                    peers={peersByCell.get(id)}
                  />
                );
              })}
              </div>
            )}
            {canEdit ? (
            <>
            <div className="add-cells">
              <button type="button" className="btn btn-ghost" data-testid="add-code-cell" onClick={() => actions.insert(cells.length ? idOf(cells[cells.length - 1]) : null, 'below', 'code', { edit: true })}>
                <Icon name="plus" /> Code
              </button>
              <button type="button" className="btn btn-ghost" data-testid="add-markdown-cell" onClick={() => actions.insert(cells.length ? idOf(cells[cells.length - 1]) : null, 'below', 'markdown', { edit: true })}>
                <Icon name="plus" /> Markdown
              </button>
              <button
                type="button"
                className="btn btn-ghost"
                data-testid="add-ai-cell"
                disabled={!model.model}
                title={model.model ? 'Add an AI cell: describe what you want, the model writes the code' : NO_MODEL_TITLE}
                onClick={() => actions.insertAi(cells.length ? idOf(cells[cells.length - 1]) : null)}
              >
                <Icon name="sparkle" /> AI
              </button>
            </div>
            <AskBar hasModel={Boolean(model.model)} suggestions={model.suggestions ?? []} attachments={attachments} isDropTarget={isDraggingOnAsk} onAsk={ask} />
            <p className="nb-hint">
              <kbd>Shift</kbd>+<kbd>Enter</kbd> run · <kbd>Esc</kbd> command mode · <kbd>A</kbd>/<kbd>B</kbd> insert ·{' '}
              <kbd>D</kbd> <kbd>D</kbd> delete · <kbd>M</kbd>/<kbd>Y</kbd>/<kbd>R</kbd> type · <kbd>I</kbd> AI cell below · <kbd>Z</kbd> undo ·{' '}
              <kbd>C</kbd>/<kbd>X</kbd>/<kbd>V</kbd> copy, cut, paste · <kbd>Shift</kbd>+<kbd>↑</kbd>/<kbd>↓</kbd> select · <kbd>Shift</kbd>+<kbd>M</kbd> merge
            </p>
            </>
            ) : (
              <p className="nb-hint nb-read-only-hint" data-testid="read-only-hint">
                {closed ? closed.message : 'View only: you see every change live, and can select, copy and download. Editing and running need an editor link.'}
              </p>
            )}
            </FileLinksContext.Provider>
          </NotebookContext.Provider>
        ) : (
          <div className="nb-empty">Connecting…</div>
        )}
      </main>

      {isFilesOpen ? <FilesPanel
          notebookId={notebookId}
          files={files}
          canEdit={canEditFiles}
          canManagePackages={canShare}
          onClose={() => {
            setIsFilesOpen(false);
            // back to command mode's keys, as Esc anywhere else does
            rootRef.current?.focus({ preventScroll: true });
          }}
        /> : null}
      {isDraggingFiles && !isDraggingOnAsk ? (
        <div className="drop-overlay" data-testid="drop-overlay" aria-hidden>
          <div className="drop-card">
            <Icon name="upload" />
            <strong>Drop to upload</strong>
            <span>into this notebook's working directory, where code reads files by name</span>
          </div>
        </div>
      ) : null}
      {isSharing && canShare ? (
        <ShareDialog
          notebookId={notebookId}
          notify={notify}
          onClose={() => {
            setIsSharing(false);
            // back to command mode's keys, as Esc anywhere else does
            rootRef.current?.focus({ preventScroll: true });
          }}
        />
      ) : null}
      <Toasts toasts={toasts} onDismiss={(id) => setToasts((list) => list.filter((t) => t.id !== id))} />
      {needsName ? (
        <NameDialog
          initialName={user?.name ?? ''}
          onCancel={user ? () => setIsNaming(false) : undefined}
          onSubmit={(name) => {
            const isFirstName = !userRef.current;
            setUser(saveUser(name));
            setIsNaming(false);
            // a first-time visitor named themselves before the new notebook could take their
            // keystrokes: now it does, as it would have without the dialog
            if (isFirstName && isFreshNotebook(cells) && canEditRef.current) actions.edit(idOf(cells[0]), 'end');
          }}
        />
      ) : null}
    </div>
  );
}

/** A new notebook: one empty code cell and nothing else. It opens in edit mode, as Jupyter's does. */
function isFreshNotebook(cells: readonly YCell[]): boolean {
  if (cells.length !== 1) return false;
  const first = cells[0];
  return cellType(first) === 'code' && !first.has('prompt') && cellSource(first).length === 0;
}
