// "Import .ipynb" on the home page: a file picker, and a Jupyter notebook dropped anywhere on the
// page. The server checks the file (JSON, nbformat 4, the schema, its size) and answers a new
// notebook's id, or an error that says what is wrong; nothing half-made is left behind.
import { useCallback, useRef, useState } from 'react';
import { ApiError, describeApiError } from '~/notebook/api-client';
import { importNotebook } from '~/notebook/files-client';
import { useFileDrop } from '~/notebook/use-file-drop';
import { Icon } from './ui/icons';

function isNotebookName(name: string): boolean {
  return /\.ipynb$/i.test(name);
}

export function ImportNotebook() {
  const inputRef = useRef<HTMLInputElement>(null);
  const [busyName, setBusyName] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const start = useCallback(
    (files: File[]) => {
      if (busyName) return;
      const file = files.find((f) => isNotebookName(f.name));
      if (!file) {
        const names = files.map((f) => f.name).join(', ');
        setError(`${names ? `"${names}" is not` : 'That is not'} a Jupyter notebook: choose a .ipynb file to import.`);
        return;
      }
      setBusyName(file.name);
      setError(null);
      importNotebook(file, file.name).then(
        // a document load, not a client-side route change: the server turns a link's token into
        // the notebook's cookie on page requests, as for any shared link
        ({ id, token }) => window.location.assign(`/n/${encodeURIComponent(id)}${token ? `?token=${encodeURIComponent(token)}` : ''}`),
        (err) => {
          setBusyName(null);
          // the server's message says what is wrong with the file ("This file is nbformat 3: …")
          setError(
            `Could not import "${file.name}": ${err instanceof ApiError && err.status >= 400 && err.status < 500 ? err.message : describeApiError(err)}`
          );
        }
      );
    },
    [busyName]
  );

  const isDragging = useFileDrop((requests) => start(requests.map((r) => r.file)));

  return (
    <>
      <div className="import-row">
        <button type="button" className="btn" data-testid="import-ipynb" disabled={Boolean(busyName)} onClick={() => inputRef.current?.click()}>
          <Icon name="upload" /> {busyName ? `Importing ${busyName}…` : 'Import .ipynb'}
        </button>
        <span className="import-hint">or drop a Jupyter notebook anywhere on this page</span>
        <input
          ref={inputRef}
          type="file"
          accept=".ipynb,application/x-ipynb+json"
          hidden
          data-testid="import-input"
          onChange={(e) => {
            const picked = Array.from(e.currentTarget.files ?? []);
            e.currentTarget.value = '';
            if (picked.length) start(picked);
          }}
        />
      </div>
      {error ? (
        <div className="import-error" role="alert" data-testid="import-error">
          <span>{error}</span>
          <button type="button" className="toast-close" aria-label="Dismiss" onClick={() => setError(null)}>
            ×
          </button>
        </div>
      ) : null}
      {isDragging ? (
        <div className="drop-overlay" data-testid="drop-overlay" aria-hidden>
          <div className="drop-card">
            <Icon name="upload" />
            <strong>Drop a .ipynb to import it</strong>
            <span>it opens as a new notebook, outputs and all</span>
          </div>
        </div>
      ) : null}
    </>
  );
}
