// Completion (Tab, and after `.`) and help (Shift+Tab) from the notebook's kernel, through the
// server's POST /complete and /inspect (decision 0012). Offsets are UTF-16, as Monaco counts.
// An empty answer is normal: no kernel yet, or a busy one; it never blocks a keystroke.
import type { editor as MonacoEditor, IDisposable } from 'monaco-editor/editor';
import { api } from './api-client';
import type { Monaco } from './monaco.client';
import { stripAnsi } from '~/components/outputs/ansi';

type Editor = MonacoEditor.IStandaloneCodeEditor;
type TextModel = MonacoEditor.ITextModel;

/** Help longer than this is cut in the Shift+Tab popup (the server already limits it). */
export const MAX_HELP_CHARS = 4_000;

/** The notebook each editor model completes against; models of viewers are not here. */
const notebookOfModel = new WeakMap<TextModel, string>();

let isRegistered = false;

const KINDS: Record<string, import('monaco-editor/editor').languages.CompletionItemKind> = {};

/** Registers the python completion provider once per page; it serves the models attached below. */
export function registerKernelCompletion(monaco: Monaco): void {
  if (isRegistered) return;
  isRegistered = true;
  const K = monaco.languages.CompletionItemKind;
  Object.assign(KINDS, {
    function: K.Function,
    builtin_function_or_method: K.Function,
    class: K.Class,
    type: K.Class,
    module: K.Module,
    instance: K.Variable,
    statement: K.Variable,
    keyword: K.Keyword,
    param: K.Variable,
    property: K.Property,
    path: K.File,
  });
  monaco.languages.registerCompletionItemProvider('python', {
    triggerCharacters: ['.'],
    async provideCompletionItems(model, position, _context, token) {
      const notebookId = notebookOfModel.get(model);
      if (!notebookId) return { suggestions: [] };
      const code = model.getValue();
      let reply;
      try {
        reply = await api.complete(notebookId, code, model.getOffsetAt(position));
      } catch {
        return { suggestions: [] };
      }
      if (token.isCancellationRequested || model.isDisposed() || model.getValue() !== code) return { suggestions: [] };
      const start = model.getPositionAt(reply.cursor_start);
      const end = model.getPositionAt(reply.cursor_end);
      const range = new monaco.Range(start.lineNumber, start.column, end.lineNumber, end.column);
      const types = reply.metadata?._jupyter_types_experimental;
      const suggestions = reply.matches.map((match, i) => {
        const info = types?.[i]?.text === match ? types[i] : undefined;
        return {
          label: match,
          insertText: match,
          range,
          kind: (info?.type ? KINDS[info.type] : undefined) ?? K.Variable,
          detail: info?.signature || info?.type || undefined,
          // keep the kernel's order (IPython sorts them already)
          sortText: String(i).padStart(5, '0'),
        };
      });
      return { suggestions };
    },
  });
}

/** Tab completes (or indents at the start of a line) and Shift+Tab shows help, in this editor. */
export function attachKernelHelp(monaco: Monaco, editor: Editor, notebookId: string): IDisposable {
  const model = editor.getModel();
  if (!model) return { dispose() {} };
  registerKernelCompletion(monaco);
  notebookOfModel.set(model, notebookId);
  const { KeyCode, KeyMod } = monaco;

  /** true when the caret follows only whitespace on its line (or text is selected): Tab indents */
  const isIndentPosition = () => {
    const selection = editor.getSelection();
    if (!selection || !selection.isEmpty()) return true;
    const before = model.getLineContent(selection.startLineNumber).slice(0, selection.startColumn - 1);
    return before.trim() === '';
  };

  // the help popup: a content widget at the caret, gone on any edit, caret move, blur or Esc
  const isHelpVisible = editor.createContextKey<boolean>('kernelHelpVisible', false);
  const node = document.createElement('div');
  node.className = 'kernel-help';
  node.dataset.testid = 'kernel-help';
  node.addEventListener('mousedown', (e) => e.stopPropagation());
  let at: { lineNumber: number; column: number } | null = null;
  const widget: MonacoEditor.IContentWidget = {
    getId: () => 'kernel.help',
    // drawn over the cells below (the editor is only as tall as its lines)
    allowEditorOverflow: true,
    getDomNode: () => node,
    getPosition: () =>
      at && {
        position: at,
        preference: [monaco.editor.ContentWidgetPositionPreference.BELOW, monaco.editor.ContentWidgetPositionPreference.ABOVE],
      },
  };
  let isShown = false;
  let request = 0;
  const hideHelp = () => {
    request++;
    if (!isShown) return;
    isShown = false;
    isHelpVisible.set(false);
    editor.removeContentWidget(widget);
  };
  const showHelp = async () => {
    const position = editor.getPosition();
    if (!position) return;
    const mine = ++request;
    let text = '';
    try {
      const reply = await api.inspect(notebookId, model.getValue(), model.getOffsetAt(position));
      text = reply.found ? stripAnsi(reply.data['text/plain'] ?? '') : '';
    } catch {
      return;
    }
    if (mine !== request || model.isDisposed()) return;
    node.textContent = text ? (text.length > MAX_HELP_CHARS ? `${text.slice(0, MAX_HELP_CHARS)}…` : text) : 'No help found here (is the kernel running, and the name defined?)';
    node.classList.toggle('is-empty', !text);
    at = position;
    if (isShown) editor.layoutContentWidget(widget);
    else editor.addContentWidget(widget);
    isShown = true;
    isHelpVisible.set(true);
  };

  editor.addCommand(
    KeyCode.Tab,
    () => {
      if (isIndentPosition()) editor.trigger('keyboard', 'tab', null);
      else editor.trigger('keyboard', 'editor.action.triggerSuggest', {});
    },
    '!suggestWidgetVisible && !inSnippetMode && !editorReadonly',
  );
  editor.addCommand(
    KeyMod.Shift | KeyCode.Tab,
    () => {
      if (isIndentPosition()) editor.trigger('keyboard', 'outdent', null);
      else void showHelp();
    },
    '!suggestWidgetVisible && !inSnippetMode && !editorReadonly',
  );
  editor.addCommand(KeyCode.Escape, hideHelp, 'kernelHelpVisible');
  const subscriptions = [
    editor.onDidChangeModelContent(hideHelp),
    editor.onDidChangeCursorPosition(hideHelp),
    editor.onDidBlurEditorText(hideHelp),
  ];
  return {
    dispose() {
      hideHelp();
      for (const s of subscriptions) s.dispose();
      notebookOfModel.delete(model);
    },
  };
}
