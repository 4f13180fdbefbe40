import { memo, type CSSProperties } from 'react';
import { cellId as idOf, cellSource, cellType as typeOf, type YCell } from '../../common/notebook/model';
import type { CellType } from '../../common/notebook/types';
import { initials } from '~/notebook/identity';
import { useNotebook } from '~/notebook/notebook-context';
import { useYMapValue } from '~/notebook/use-cells';
import type { Peer } from '~/notebook/use-presence';
import { CellOutputs, ExecutionBadge, ExecutionCount } from './cell-outputs';
import { CellToolbar } from './cell-toolbar';
import { CodeEditor } from './code-editor';
import { MarkdownView } from './markdown-view';
import { StaticSource } from './static-source';

interface CellViewProps {
  cell: YCell;
  isActive: boolean;
  /** selected and in edit mode: the editor holds the keyboard */
  isEditing: boolean;
  /** a markdown cell showing its source instead of its rendering */
  isMarkdownOpen: boolean;
  /** other people whose selected cell this is */
  peers: Peer[] | undefined;
}

export const CellView = memo(function CellView({ cell, isActive, isEditing, isMarkdownOpen, peers }: CellViewProps) {
  const { actions } = useNotebook();
  const id = idOf(cell);
  const type = useYMapValue<CellType>(cell, 'cell_type') ?? typeOf(cell);
  const text = cellSource(cell);
  const showEditor = isActive && (type !== 'markdown' || isMarkdownOpen);
  const peerColor = peers?.[0]?.user.color;

  let input;
  if (showEditor) input = <CodeEditor cellId={id} cellType={type} text={text} isFocused={isEditing} />;
  else if (type === 'markdown') input = <MarkdownView cellId={id} text={text} />;
  else input = <StaticSource cellId={id} cellType={type} text={text} />;

  return (
    <div
      className={`cell cell-${type}${isActive ? ' is-active' : ''}${isEditing ? ' is-editing' : ''}${peers?.length ? ' has-peers' : ''}`}
      data-testid="cell"
      data-cell-id={id}
      data-cell-type={type}
      style={peerColor ? ({ '--peer': peerColor } as CSSProperties) : undefined}
      onMouseDown={() => {
        if (!actions.isActive(id)) actions.select(id);
      }}
    >
      <div className="cell-gutter">
        {type === 'code' ? <ExecutionCount cell={cell} /> : null}
      </div>
      <div className="cell-main">
        {peers?.length ? (
          <div className="cell-peers" data-testid="cell-peers">
            {peers.map((p) => (
              <span key={p.clientId} className="peer-chip" style={{ background: p.user.color }} title={`${p.user.name} is here`}>
                {initials(p.user.name)}
              </span>
            ))}
          </div>
        ) : null}
        {isActive ? (
          <CellToolbar
            cellId={id}
            cellType={type}
            onRun={() => actions.run(id, text.toString())}
          />
        ) : null}
        {type === 'code' ? <ExecutionBadge cell={cell} /> : null}
        <div className="cell-input">{input}</div>
        {type === 'code' ? <CellOutputs cell={cell} /> : null}
      </div>
    </div>
  );
});
