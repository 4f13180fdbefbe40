import type { CellType } from '../../common/notebook/types';
import { useNotebook } from '~/notebook/notebook-context';
import { Icon, type IconName } from './ui/icons';

function ToolButton({ icon, label, onClick, testId }: { icon: IconName; label: string; onClick: () => void; testId?: string }) {
  return (
    <button
      type="button"
      className="tool-btn"
      title={label}
      aria-label={label}
      data-testid={testId}
      // keep the editor's focus and selection while clicking a tool
      onMouseDown={(e) => e.preventDefault()}
      onClick={(e) => {
        e.stopPropagation();
        onClick();
      }}
    >
      <Icon name={icon} />
    </button>
  );
}

/** Tools of the selected cell. */
export function CellToolbar({ cellId, cellType, onRun }: { cellId: string; cellType: CellType; onRun: () => void }) {
  const { actions } = useNotebook();
  return (
    <div className="cell-toolbar" data-testid="cell-toolbar" onMouseDown={(e) => e.stopPropagation()}>
      <ToolButton icon="play" label={cellType === 'markdown' ? 'Render (Shift+Enter)' : 'Run (Shift+Enter)'} onClick={onRun} testId={cellType === 'code' ? 'toolbar-run' : 'run-cell'} />
      <select
        className="type-select"
        aria-label="Cell type"
        data-testid="cell-type-select"
        value={cellType}
        onChange={(e) => {
          actions.setType(cellId, e.target.value as CellType);
          e.target.blur();
        }}
      >
        <option value="code">Code</option>
        <option value="markdown">Markdown</option>
        <option value="raw">Raw</option>
      </select>
      <span className="tool-sep" />
      <ToolButton icon="up" label="Move up" onClick={() => actions.move(cellId, -1)} testId="move-up" />
      <ToolButton icon="down" label="Move down" onClick={() => actions.move(cellId, 1)} testId="move-down" />
      <ToolButton icon="insertAbove" label="Insert cell above (A)" onClick={() => actions.insert(cellId, 'above', 'code', { edit: true })} testId="insert-above" />
      <ToolButton icon="insertBelow" label="Insert cell below (B)" onClick={() => actions.insert(cellId, 'below', 'code', { edit: true })} testId="insert-below" />
      <ToolButton icon="merge" label="Merge with cell below" onClick={() => actions.mergeBelow(cellId)} testId="merge-below" />
      <ToolButton icon="trash" label="Delete cell (D D)" onClick={() => actions.remove(cellId)} testId="delete-cell" />
    </div>
  );
}
