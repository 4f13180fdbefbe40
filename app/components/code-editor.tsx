// The one live Monaco editor of the notebook, mounted on the selected cell only. Every other cell
// is static HTML (see static-source.tsx), which is what keeps a thousand-cell notebook usable.
import { useEffect, useRef, useState } from 'react';
import type * as Y from 'yjs';
import type { CellType } from '../../common/notebook/types';
import { useNotebook, type CaretTarget } from '~/notebook/notebook-context';
import { attachKernelHelp } from '~/notebook/kernel-help';
import { useTheme, type Theme } from '~/notebook/use-theme';
import { StaticSource } from './static-source';

type MonacoModule = typeof import('~/notebook/monaco.client');
type Editor = import('monaco-editor/editor').editor.IStandaloneCodeEditor;

export const EDITOR_FONT_SIZE = 13;
export const EDITOR_LINE_HEIGHT = 20;
export const EDITOR_PADDING = 8;
/** more room above the first line, for the name tag of a remote caret there */
export const EDITOR_PADDING_TOP = 12;
export const EDITOR_FONT_FAMILY =
  "ui-monospace, 'SFMono-Regular', 'JetBrains Mono', Menlo, Consolas, 'DejaVu Sans Mono', 'Liberation Mono', monospace";

/** how long a selection must rest in command mode before its editor mounts */
export const EDITOR_MOUNT_DELAY_MS = 200;

let monacoPromise: Promise<MonacoModule> | null = null;
/** Loads Monaco once; later cells reuse the same module. */
export function loadMonaco(): Promise<MonacoModule> {
  monacoPromise ??= import('~/notebook/monaco.client');
  return monacoPromise;
}

const LANGUAGE: Record<CellType, string> = { code: 'python', markdown: 'markdown', raw: 'plaintext' };
/** Monaco's built-in themes; static-source.tsx's colours (theme.css) match them. */
const MONACO_THEME: Record<Theme, string> = { light: 'vs', dark: 'vs-dark' };

const AI_WRITING_MESSAGE = 'The AI is writing this cell; it is editable again when it finishes.';

export function heightForLines(lines: number): number {
  return Math.max(1, lines) * EDITOR_LINE_HEIGHT + EDITOR_PADDING_TOP + EDITOR_PADDING;
}

interface CodeEditorProps {
  cellId: string;
  cellType: CellType;
  text: Y.Text;
  /** the editor should hold keyboard focus (edit mode) */
  isFocused: boolean;
  /** nobody may type here now (the model is writing this cell) */
  isReadOnly?: boolean;
}

export function CodeEditor({ cellId, cellType, text, isFocused, isReadOnly = false }: CodeEditorProps) {
  const { awareness, undoManager, actions, canEdit, readOnlyReason, notebookId } = useNotebook();
  const containerRef = useRef<HTMLDivElement>(null);
  const editorRef = useRef<Editor | null>(null);
  const [isReady, setIsReady] = useState(false);
  const readOnlyRef = useRef(isReadOnly);
  readOnlyRef.current = isReadOnly;
  // a viewer's editor: read-only for good (select and copy only), with the reason as Monaco's message
  const readOnlyMessage = canEdit ? AI_WRITING_MESSAGE : (readOnlyReason ?? AI_WRITING_MESSAGE);
  const readOnlyMessageRef = useRef(readOnlyMessage);
  readOnlyMessageRef.current = readOnlyMessage;
  const canEditRef = useRef(canEdit);
  canEditRef.current = canEdit;
  const theme = useTheme();
  const themeRef = useRef(theme);
  themeRef.current = theme;
  // Walking through cells with J/K should not build and tear down an editor per keypress: a cell
  // selected in command mode gets its editor once the selection rests; in edit mode, at once.
  const [isArmed, setIsArmed] = useState(isFocused);
  useEffect(() => {
    if (isArmed) return;
    if (isFocused) {
      setIsArmed(true);
      return;
    }
    const timer = setTimeout(() => setIsArmed(true), EDITOR_MOUNT_DELAY_MS);
    return () => clearTimeout(timer);
  }, [isArmed, isFocused]);

  useEffect(() => {
    if (!isArmed) return;
    let isDisposed = false;
    let cleanup = () => {};
    setIsReady(false);
    loadMonaco().then(({ monaco, MonacoBinding }) => {
      const container = containerRef.current;
      if (isDisposed || !container) return;
      const { KeyCode, KeyMod } = monaco;
      const model = monaco.editor.createModel(text.toString(), LANGUAGE[cellType]);
      model.updateOptions({ tabSize: 4, insertSpaces: true });
      container.style.height = `${heightForLines(model.getLineCount())}px`;
      const editor = monaco.editor.create(container, {
        model,
        theme: MONACO_THEME[themeRef.current],
        fontSize: EDITOR_FONT_SIZE,
        lineHeight: EDITOR_LINE_HEIGHT,
        fontFamily: EDITOR_FONT_FAMILY,
        minimap: { enabled: false },
        scrollBeyondLastLine: false,
        lineNumbers: 'off',
        glyphMargin: false,
        folding: false,
        lineDecorationsWidth: 10,
        lineNumbersMinChars: 0,
        renderLineHighlight: 'none',
        overviewRulerLanes: 0,
        overviewRulerBorder: false,
        hideCursorInOverviewRuler: true,
        scrollbar: {
          vertical: 'hidden',
          verticalScrollbarSize: 0,
          horizontalScrollbarSize: 8,
          alwaysConsumeMouseWheel: false,
        },
        padding: { top: EDITOR_PADDING_TOP, bottom: EDITOR_PADDING },
        automaticLayout: true,
        fixedOverflowWidgets: true,
        stickyScroll: { enabled: false },
        wordWrap: cellType === 'code' ? 'off' : 'on',
        occurrencesHighlight: 'off',
        // suggestions come from the kernel, on Tab and after `.` only (kernel-help.ts), never per keystroke
        quickSuggestions: false,
        wordBasedSuggestions: 'off',
        suggestOnTriggerCharacters: true,
        tabCompletion: 'off',
        contextmenu: true,
        ariaLabel: `${cellType} cell`,
        readOnly: readOnlyRef.current,
        domReadOnly: !canEditRef.current,
        readOnlyMessage: { value: readOnlyMessageRef.current },
      });
      editorRef.current = editor;
      // y-monaco writes to the Y.Text with the binding as the transaction origin: tracking it makes
      // this person's typing undoable, and nobody else's.
      const binding = new MonacoBinding(text, model, new Set([editor]), awareness);
      undoManager.addTrackedOrigin(binding);
      // y-monaco draws remote carets on the next awareness change; draw those already here now
      (binding as unknown as { _rerenderDecorations?: () => void })._rerenderDecorations?.();

      const fitHeight = () => {
        const height = Math.max(editor.getContentHeight(), heightForLines(1));
        if (container.style.height !== `${height}px`) {
          container.style.height = `${height}px`;
          editor.layout({ width: container.clientWidth, height });
        }
      };
      editor.onDidContentSizeChange(fitHeight);
      fitHeight();

      // Jupyter's keys. Undo goes to the shared Y.UndoManager, never to Monaco's own stack, which
      // would also revert other people's edits to this cell.
      const source = () => model.getValue();
      editor.addCommand(KeyMod.Shift | KeyCode.Enter, () => actions.runAndAdvance(cellId, source()));
      editor.addCommand(KeyMod.CtrlCmd | KeyCode.Enter, () => actions.run(cellId, source()));
      editor.addCommand(KeyMod.Alt | KeyCode.Enter, () => actions.runAndInsert(cellId, source()));
      editor.addCommand(KeyMod.CtrlCmd | KeyCode.KeyS, () => actions.save());
      editor.addCommand(KeyMod.CtrlCmd | KeyCode.KeyZ, () => actions.undo());
      editor.addCommand(KeyMod.CtrlCmd | KeyMod.Shift | KeyCode.KeyZ, () => actions.redo());
      editor.addCommand(KeyMod.CtrlCmd | KeyCode.KeyY, () => actions.redo());
      editor.addCommand(KeyMod.CtrlCmd | KeyMod.Shift | KeyCode.Minus, () => {
        const pos = editor.getPosition();
        if (pos) actions.split(cellId, model.getOffsetAt(pos));
      });
      // Tab, Shift+Tab: the kernel's completion and help, for those who may run code
      const kernelHelp = canEditRef.current && cellType === 'code' ? attachKernelHelp(monaco, editor, notebookId) : null;
      const noWidget = '!suggestWidgetVisible && !findWidgetVisible && !parameterHintsVisible && !inSnippetMode && !kernelHelpVisible';
      editor.addCommand(KeyCode.Escape, () => actions.command(), noWidget);
      // arrow keys leave the cell at its first/last line, as in Jupyter
      editor.addCommand(
        KeyCode.UpArrow,
        () => {
          const pos = editor.getPosition();
          if (pos && pos.lineNumber === 1) actions.selectAdjacent(-1, { edit: true });
          else editor.trigger('keyboard', 'cursorUp', null);
        },
        noWidget,
      );
      editor.addCommand(
        KeyCode.DownArrow,
        () => {
          const pos = editor.getPosition();
          if (pos && pos.lineNumber === model.getLineCount()) actions.selectAdjacent(1, { edit: true });
          else editor.trigger('keyboard', 'cursorDown', null);
        },
        noWidget,
      );
      // moving the caret on purpose (a click, arrows, End) starts a new undo step, as in any editor
      editor.onDidChangeCursorPosition((e) => {
        if (e.reason === monaco.editor.CursorChangeReason.Explicit) undoManager.stopCapturing();
      });
      editor.onDidAttemptReadOnlyEdit(() => {
        if (!canEditRef.current) actions.explainReadOnly();
      });
      editor.onDidFocusEditorText(() => actions.editorFocused(cellId, true));
      editor.onDidBlurEditorText(() => {
        // a blur caused by disposing (selecting another cell) is not a request for command mode
        setTimeout(() => {
          if (!isDisposed && !editor.hasTextFocus()) actions.editorFocused(cellId, false);
        }, 0);
      });

      setIsReady(true);
      cleanup = () => {
        kernelHelp?.dispose();
        undoManager.removeTrackedOrigin(binding);
        binding.destroy();
        // our caret no longer points into this cell
        if (awareness.getLocalState()) awareness.setLocalStateField('selection', null);
        editor.dispose();
        model.dispose();
        editorRef.current = null;
      };
    });
    return () => {
      isDisposed = true;
      cleanup();
    };
    // one editor per (cell, type); the Y.Text of a cell never changes identity
  }, [isArmed, cellId, cellType, text, awareness, undoManager, actions, notebookId]);

  useEffect(() => {
    editorRef.current?.updateOptions({ readOnly: isReadOnly, domReadOnly: !canEdit, readOnlyMessage: { value: readOnlyMessage } });
  }, [isReady, isReadOnly, canEdit, readOnlyMessage]);

  // Monaco has one theme for all its editors; the light/dark switch changes it in place
  useEffect(() => {
    if (!isReady) return;
    void loadMonaco().then(({ monaco }) => monaco.editor.setTheme(MONACO_THEME[theme]));
  }, [isReady, theme]);

  // focus follows the notebook's mode, and pending caret requests (a click on static text) land here
  useEffect(() => {
    const editor = editorRef.current;
    if (!isReady || !editor) return;
    const request = actions.takeFocusRequest(cellId);
    if (request) placeCaret(editor, request.caret);
    if (isFocused && !editor.hasTextFocus()) editor.focus();
    if (!isFocused && editor.hasTextFocus()) {
      (document.activeElement as HTMLElement | null)?.blur();
    }
  }, [isReady, isFocused, cellId, actions]);

  return (
    <div className="code-editor" data-testid="code-editor" data-readonly={isReadOnly ? 'true' : undefined}>
      <div
        ref={containerRef}
        className="monaco-host"
        style={isReady ? undefined : { position: 'absolute', visibility: 'hidden', width: '100%' }}
      />
      {isReady ? null : <StaticSource cellId={cellId} cellType={cellType} text={text} />}
    </div>
  );
}

function placeCaret(editor: Editor, caret: CaretTarget) {
  const model = editor.getModel();
  if (!model) return;
  const pos =
    caret === 'start'
      ? { lineNumber: 1, column: 1 }
      : caret === 'end'
        ? model.getPositionAt(model.getValueLength())
        : model.getPositionAt(caret);
  editor.setPosition(pos);
  editor.revealPositionInCenterIfOutsideViewport(pos);
}
