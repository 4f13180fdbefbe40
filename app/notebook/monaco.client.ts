// Browser-only: Monaco touches `window` at import time. Loaded with a dynamic import the first
// time a cell is edited, so the notebook (and server rendering) never wait for it.
import * as monaco from 'monaco-editor/editor';
import 'monaco-editor/features/register.all';
import 'monaco-editor/languages/definitions/python/register';
import 'monaco-editor/languages/definitions/markdown/register';
import EditorWorker from 'monaco-editor/editor/editor.worker?worker';
import { MonacoBinding } from 'y-monaco';

declare global {
  interface Window {
    MonacoEnvironment?: { getWorker(workerId: string, label: string): Worker };
  }
}

// Python and Markdown need no language worker; the editor worker does diffing and links.
self.MonacoEnvironment = { getWorker: () => new EditorWorker() };

export { monaco, MonacoBinding };
export type Monaco = typeof monaco;
