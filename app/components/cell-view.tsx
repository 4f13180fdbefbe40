import { memo, type CSSProperties } from 'react';
import { cellId as idOf, cellSource, cellType as typeOf, type YCell } from '../../common/notebook/model';
import type { AiInfo, CellType } from '../../common/notebook/types';
import type * as Y from 'yjs';
import { AiAnswer, AiHistory, AiPrompt, AiThoughts, AiWritingNotice, isWritingStatus } from './ai-cell';
import { initials } from '~/notebook/identity';
import { useNotebook } from '~/notebook/notebook-context';
import { useYMapValue } from '~/notebook/use-cells';
import type { Peer } from '~/notebook/use-presence';
import { CellOutputs, ExecutionBadge, ExecutionCount } from './cell-outputs';
import { CellToolbar } from './cell-toolbar';
import { CodeEditor } from './code-editor';
import { MarkdownView } from './markdown-view';
import { StaticSource } from './static-source';
import { Icon } from './ui/icons';

interface CellViewProps {
  cell: YCell;
  isActive: boolean;
  /** part of a Shift-extended multi-selection */
  isSelected?: boolean;
  /** selected and in edit mode: the editor holds the keyboard */
  isEditing: boolean;
  /** a markdown cell showing its source instead of its rendering */
  isMarkdownOpen: boolean;
  /** other people whose selected cell this is */
  peers: Peer[] | undefined;
}

function isOnLink(target: EventTarget | null): boolean {
  return target instanceof Element && target.closest('a[href]') !== null;
}

export const CellView = memo(function CellView({ cell, isActive, isSelected = false, isEditing, isMarkdownOpen, peers }: CellViewProps) {
  const { actions, canEdit } = useNotebook();
  const id = idOf(cell);
  const type = useYMapValue<CellType>(cell, 'cell_type') ?? typeOf(cell);
  const text = cellSource(cell);
  const showEditor = isActive && (type !== 'markdown' || isMarkdownOpen);
  const peerColor = peers?.[0]?.user.color;
  const prompt = useYMapValue<Y.Text>(cell, 'prompt');
  const ai = useYMapValue<AiInfo>(cell, 'ai');
  const isAiCell = type === 'code' && Boolean(prompt);
  const isAiWriting = isAiCell && isWritingStatus(ai?.status);

  let input;
  if (showEditor) input = <CodeEditor cellId={id} cellType={type} text={text} isFocused={isEditing} isReadOnly={isAiWriting || !canEdit} />;
  else if (type === 'markdown') input = <MarkdownView cellId={id} text={text} />;
  else input = <StaticSource cellId={id} cellType={type} text={text} />;

  return (
    <div
      className={`cell cell-${type}${prompt ? ' cell-ai' : ''}${isActive ? ' is-active' : ''}${isSelected ? ' is-selected' : ''}${isEditing ? ' is-editing' : ''}${peers?.length ? ' has-peers' : ''}`}
      data-testid="cell"
      data-cell-id={id}
      data-cell-type={type}
      data-selected={isSelected ? 'true' : undefined}
      style={peerColor ? ({ '--peer': peerColor } as CSSProperties) : undefined}
      onMouseDown={(e) => {
        // a link selects its cell once clicked: selecting on mousedown changes the cell's
        // content-visibility (app.css), and Chromium then loses the click on the link
        if (isOnLink(e.target)) return;
        if (e.shiftKey && canEdit && actions.mode() === 'command' && !actions.isActive(id)) {
          // Shift+click extends the selection (and puts no caret anywhere)
          e.preventDefault();
          actions.select(id, { extend: true });
          return;
        }
        if (!actions.isActive(id) || actions.isMultiSelected()) actions.select(id);
      }}
      onClick={(e) => {
        if (isOnLink(e.target) && !actions.isActive(id)) actions.select(id);
      }}
    >
      <div className="cell-gutter">
        {type === 'code' && canEdit ? (
          <button
            type="button"
            className="gutter-run"
            data-testid="run-cell"
            title="Run this cell (Shift+Enter)"
            aria-label="Run cell"
            // keep the editor's focus and caret
            onMouseDown={(e) => e.preventDefault()}
            onClick={(e) => {
              e.stopPropagation();
              actions.run(id, text.toString());
            }}
          >
            <Icon name="play" />
          </button>
        ) : null}
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
        {/* the run badge and the toolbar share one row, so the toolbar never covers the badge (decision 0014) */}
        <div className={`cell-topbar${isActive && canEdit ? ' has-toolbar' : ''}`}>
          {type === 'code' ? <ExecutionBadge cell={cell} /> : null}
          {isActive && canEdit ? (
            <CellToolbar
              cellId={id}
              cellType={type}
              onRun={() => actions.run(id, text.toString())}
            />
          ) : null}
        </div>
        {isAiCell && prompt ? <AiPrompt cell={cell} cellId={id} prompt={prompt} /> : null}
        {isAiCell ? <AiThoughts cell={cell} /> : null}
        {isAiWriting && ai ? <AiWritingNotice ai={ai} /> : null}
        <div className={`cell-input${isAiWriting ? ' is-ai-writing' : ''}`}>{input}</div>
        {type === 'code' ? <CellOutputs cell={cell} /> : null}
        {isAiCell ? <AiAnswer cell={cell} /> : null}
        {isAiCell ? <AiHistory cell={cell} /> : null}
      </div>
    </div>
  );
});
