import { createContext, useContext } from 'react';
import type * as Y from 'yjs';
import type { Awareness } from 'y-protocols/awareness';
import type { Actor, CellType } from '../../common/notebook/types';
import type { ModelInfo } from '../../common/app-context';

export type Mode = 'command' | 'edit';

/** Where the caret should land when a cell's editor next mounts or focuses. */
export type CaretTarget = number | 'start' | 'end';

export interface FocusRequest {
  cellId: string;
  caret: CaretTarget;
}

/** Every operation the cells and the keyboard can ask of the notebook; stable for its lifetime. */
export interface NotebookActions {
  /** `extend` (Shift+click, Shift+arrows): the selection grows from its anchor to this cell */
  select(cellId: string, opts?: { scroll?: boolean; extend?: boolean }): void;
  /** the selected cells' ids in document order (one, or a Shift-extended range) */
  selectedIds(): string[];
  /** true when more than one cell is selected */
  isMultiSelected(): boolean;
  /** C / X: copies the selected cells to this browser's cell clipboard (and deletes them when `cut`) */
  copy(opts?: { cut?: boolean }): void;
  /** V: pastes the cell clipboard below the selection, with new ids */
  paste(): void;
  /** D D: deletes the selected cells, one undo step */
  removeSelected(): void;
  /** Shift+Enter (advance) or Ctrl+Enter on the selection */
  runSelected(advance: boolean): void;
  /** Shift+M: merges the selected cells into the first (one cell: with the cell below) */
  mergeSelected(): void;
  /** selects the cell and puts the caret in its editor (renders markdown as source) */
  edit(cellId: string, caret?: CaretTarget): void;
  /** leaves edit mode; the cell stays selected */
  command(): void;
  /** reports that an editor got or lost keyboard focus by itself (a click into Monaco) */
  editorFocused(cellId: string, isFocused: boolean): void;
  insert(cellId: string | null, where: 'above' | 'below', type?: CellType, opts?: { edit?: boolean }): void;
  remove(cellId: string): void;
  move(cellId: string, delta: -1 | 1): void;
  setType(cellId: string, type: CellType): void;
  split(cellId: string, offset: number): void;
  mergeBelow(cellId: string): void;
  /** Ctrl+Enter: run code or render markdown, stay */
  run(cellId: string, source: string): void;
  /** Shift+Enter: run and select the next cell, adding one at the end */
  runAndAdvance(cellId: string, source: string): void;
  /** Alt+Enter: run and insert a cell below */
  runAndInsert(cellId: string, source: string): void;
  /** runs the code cells of the notebook (all), before the cell (above) or from it on (below), in order */
  runMany(which: 'all' | 'above' | 'below', cellId?: string | null): void;
  /** inserts an AI cell (a code cell with an empty prompt) below and focuses its prompt */
  insertAi(cellId: string | null): void;
  interrupt(): void;
  /** restarts the kernel; asks first unless `confirmed` */
  restart(opts?: { confirmed?: boolean }): void;
  /** restarts the kernel, then runs every code cell; asks first unless `confirmed` */
  restartAndRunAll(opts?: { confirmed?: boolean }): void;
  /** empties the outputs and execution counts of the selected cells, or of all */
  clearOutputs(which: 'selected' | 'all'): void;
  /** the prompt box this cell should focus when it mounts (consumed) */
  takePromptFocus(cellId: string): boolean;
  /** moves the selection, entering the neighbour's editor at its near end when `edit` */
  selectAdjacent(delta: -1 | 1, opts?: { edit?: boolean; extend?: boolean }): void;
  undo(): void;
  redo(): void;
  save(): void;
  /** consumes a pending caret request for this cell, if any */
  takeFocusRequest(cellId: string): FocusRequest | null;
  isActive(cellId: string): boolean;
  mode(): Mode;
  /** someone who may not edit tried to: says why, once per page */
  explainReadOnly(): void;
}

export interface NotebookContextValue {
  doc: Y.Doc;
  awareness: Awareness;
  undoManager: Y.UndoManager;
  actions: NotebookActions;
  notebookId: string;
  /** the configured language model, or nulls: AI controls are disabled then */
  model: ModelInfo;
  /** who this browser is, for the `by` of runs and generations */
  by(): Actor;
  /** shows an error banner */
  notify(message: string): void;
  /** this browser may change the document and run code (false for a viewer link, or once access ended) */
  canEdit: boolean;
  /** why it may not, for tooltips; null when it may */
  readOnlyReason: string | null;
}

export const NotebookContext = createContext<NotebookContextValue | null>(null);

export function useNotebook(): NotebookContextValue {
  const value = useContext(NotebookContext);
  if (!value) throw new Error('useNotebook() outside a <NotebookContext.Provider>');
  return value;
}
