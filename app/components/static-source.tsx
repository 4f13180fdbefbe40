// A cell's source as static HTML: what every cell but the selected one shows. It matches the live
// editor's font, line height and padding so that swapping one for the other does not move text.
import { memo, useEffect, useMemo, useRef, useState } from 'react';
import type * as Y from 'yjs';
import type { CellType } from '../../common/notebook/types';
import { escapeHtml, highlightPython } from '~/notebook/highlight';
import { useYText } from '~/notebook/use-cells';
import { useNotebook } from '~/notebook/notebook-context';
import { observeNear } from '~/notebook/near-viewport';

/** The character offset in `root`'s text at a viewport point, or null. */
export function offsetAtPoint(root: HTMLElement, x: number, y: number): number | null {
  let node: Node | null = null;
  let offset = 0;
  const doc = root.ownerDocument as Document & {
    caretPositionFromPoint?: (x: number, y: number) => { offsetNode: Node; offset: number } | null;
  };
  if (doc.caretPositionFromPoint) {
    const pos = doc.caretPositionFromPoint(x, y);
    if (pos) {
      node = pos.offsetNode;
      offset = pos.offset;
    }
  } else if (doc.caretRangeFromPoint) {
    const range = doc.caretRangeFromPoint(x, y);
    if (range) {
      node = range.startContainer;
      offset = range.startOffset;
    }
  }
  if (!node || !root.contains(node)) return null;
  if (node.nodeType !== Node.TEXT_NODE) {
    // an element position: count the text of its children before `offset`
    let total = 0;
    const children = Array.from(node.childNodes).slice(0, offset);
    for (const child of children) total += child.textContent?.length ?? 0;
    node = node.childNodes[offset] ?? node;
    offset = 0;
    return textOffsetBefore(root, node) + total;
  }
  return textOffsetBefore(root, node) + offset;
}

function textOffsetBefore(root: HTMLElement, target: Node): number {
  let total = 0;
  const walker = root.ownerDocument.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n === target) return total;
    total += n.textContent?.length ?? 0;
  }
  return total;
}

interface StaticSourceProps {
  cellId: string;
  cellType: CellType;
  text: Y.Text;
}

export const StaticSource = memo(function StaticSource({ cellId, cellType, text }: StaticSourceProps) {
  const { actions } = useNotebook();
  const source = useYText(text);
  const ref = useRef<HTMLPreElement>(null);
  // highlighting is many spans per line: a source far off screen is one text node until it comes
  // near (a thousand cells' spans were most of the time to first paint)
  const [isNear, setIsNear] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (isNear || !el || cellType !== 'code') return;
    return observeNear(el, () => setIsNear(true));
  }, [isNear, cellType]);
  const html = useMemo(() => {
    // a trailing newline is an empty last line in the editor; a <pre> would swallow it
    const shown = source.endsWith('\n') ? source + ' ' : source;
    return cellType === 'code' && isNear ? highlightPython(shown) : escapeHtml(shown);
  }, [source, cellType, isNear]);
  return (
    <pre
      ref={ref}
      className={`code-static lang-${cellType}${source ? '' : ' is-empty'}`}
      data-testid="cell-source"
      onMouseDown={(event) => {
        if (event.button !== 0 || event.shiftKey) return;
        // keep focus where it is until the editor mounts, then put the caret where the click was
        event.preventDefault();
        const offset = offsetAtPoint(event.currentTarget, event.clientX, event.clientY);
        actions.edit(cellId, offset ?? 'end');
      }}
      dangerouslySetInnerHTML={{ __html: html }}
    />
  );
});
