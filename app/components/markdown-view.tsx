import { memo, useMemo } from 'react';
import type * as Y from 'yjs';
import { useYText } from '~/notebook/use-cells';
import { useNotebook } from '~/notebook/notebook-context';
import { renderMarkdown, useMathReady } from './rich-text';

export { renderMarkdown };

/** A markdown cell when nobody is editing it here: rendered, double-click (or Enter) to edit. */
export const MarkdownView = memo(function MarkdownView({ cellId, text }: { cellId: string; text: Y.Text }) {
  const { actions, notebookId } = useNotebook();
  const source = useYText(text);
  const isMathReady = useMathReady();
  const html = useMemo(() => renderMarkdown(source, notebookId), [source, notebookId, isMathReady]);
  return (
    <div
      className="markdown-rendered"
      data-testid="markdown-rendered"
      onDoubleClick={(event) => {
        event.preventDefault();
        actions.edit(cellId, 'end');
      }}
    >
      {source.trim() ? (
        <div className="markdown-body" dangerouslySetInnerHTML={{ __html: html }} />
      ) : (
        <p className="markdown-empty">Empty Markdown cell: double-click or press Enter to write.</p>
      )}
    </div>
  );
});
