import type * as Y from 'yjs';

/** Maps a caret offset through a Y.Text change (inserts before it push it right, deletes pull it left). */
export function mapOffset(offset: number, delta: Y.YTextEvent['delta']): number {
  // `index` walks the old text; inserts take no room in it, retains and deletes do
  let index = 0;
  let result = offset;
  for (const op of delta) {
    if (index > offset) break;
    if (op.retain !== undefined) index += op.retain;
    else if (typeof op.insert === 'string') {
      if (index < offset) result += op.insert.length;
    } else if (op.delete !== undefined) {
      if (offset > index) result -= Math.min(op.delete, offset - index);
      index += op.delete;
    }
  }
  return Math.max(0, result);
}
