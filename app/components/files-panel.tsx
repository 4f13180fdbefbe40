// The notebook's working directory: what the kernel reads and writes by name. A side panel next to
// the cells (a drawer over them on narrow screens), the same list for everyone in the notebook.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { fileApiUrl } from '../../common/files/paths';
import { ApiError, requestJSON } from '~/notebook/api-client';
import { baseName, humanSize, type FileEntry } from '~/notebook/files-client';
import type { FilesApi, Upload } from '~/notebook/use-files';
import { Icon } from './ui/icons';

interface Group {
  /** '' for files at the top level */
  folder: string;
  files: { entry: FileEntry; label: string }[];
}

/** Top-level files first, then one group per top-level folder (deeper paths shown as text). */
export function groupFiles(files: FileEntry[]): Group[] {
  const top: Group = { folder: '', files: [] };
  const folders = new Map<string, Group>();
  for (const entry of files) {
    const slash = entry.path.indexOf('/');
    if (slash < 0) {
      top.files.push({ entry, label: entry.path });
      continue;
    }
    const folder = entry.path.slice(0, slash);
    let group = folders.get(folder);
    if (!group) folders.set(folder, (group = { folder, files: [] }));
    group.files.push({ entry, label: entry.path.slice(slash + 1) });
  }
  const sorted = [...folders.values()].sort((a, b) => a.folder.localeCompare(b.folder));
  return top.files.length ? [top, ...sorted] : sorted;
}

/** `pd.read_csv('sales.csv')` for the first table in the list, `open('notes.txt')` otherwise. */
function readExample(files: FileEntry[]): string {
  const quote = (p: string) => `'${p.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const csv = files.find((f) => /\.csv$/i.test(f.path) && !f.path.includes('/')) ?? files.find((f) => /\.csv$/i.test(f.path));
  if (csv) return `pd.read_csv(${quote(csv.path)})`;
  const excel = files.find((f) => /\.xlsx?$/i.test(f.path));
  if (excel) return `pd.read_excel(${quote(excel.path)})`;
  return `open(${quote(files[0].path)})`;
}

function percent(u: Upload): number {
  return u.size > 0 ? Math.min(100, Math.floor((u.loaded / u.size) * 100)) : 0;
}

/** "45% · 1.2 MB of 2.6 MB", or "waiting" for queued uploads. */
export function describeUpload(u: Upload): string {
  if (u.status === 'queued') return `waiting · ${humanSize(u.size)}`;
  return `${percent(u)}% · ${humanSize(u.loaded)} of ${humanSize(u.size)}`;
}

function UploadRow({ upload, onCancel }: { upload: Upload; onCancel: () => void }) {
  const p = percent(upload);
  return (
    <li className="upload-row" data-testid="upload-row" data-path={upload.path} data-status={upload.status}>
      <div className="upload-top">
        <span className="file-name" title={upload.path}>
          {upload.path}
        </span>
        <button type="button" className="file-action" title="Cancel this upload" aria-label={`Cancel the upload of ${upload.path}`} onClick={onCancel}>
          <Icon name="close" />
        </button>
      </div>
      <div className="upload-bar" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={p} aria-label={`Uploading ${upload.path}`}>
        <div className="upload-bar-fill" style={{ width: `${p}%` }} />
      </div>
      <div className="upload-status" data-testid="upload-progress">
        {describeUpload(upload)}
      </div>
    </li>
  );
}

function FileRow({ notebookId, entry, label, onDelete }: { notebookId: string; entry: FileEntry; label: string; onDelete: ((path: string) => void) | null }) {
  const modified = Number.isFinite(entry.modified) ? new Date(entry.modified).toLocaleString() : '';
  return (
    <li className="file-row" data-testid="file-row" data-path={entry.path}>
      <span className="file-icon" aria-hidden>
        <Icon name="file" />
      </span>
      <span className="file-name" title={`${entry.path}\n${entry.size.toLocaleString('en-US')} bytes${modified ? `\nmodified ${modified}` : ''}`}>
        {label}
      </span>
      <span className="file-size" data-testid="file-size">
        {humanSize(entry.size)}
      </span>
      <a
        className="file-action"
        href={fileApiUrl(notebookId, entry.path)}
        download={baseName(entry.path)}
        data-testid="file-download"
        title={`Download ${entry.path}`}
        aria-label={`Download ${entry.path}`}
      >
        <Icon name="download" />
      </a>
      {onDelete ? (
        <button
          type="button"
          className="file-action file-delete"
          data-testid="file-delete"
          title={`Delete ${entry.path}`}
          aria-label={`Delete ${entry.path}`}
          onClick={() => {
            if (window.confirm(`Delete "${entry.path}" from the notebook's files? Everyone in the notebook loses it.`)) onDelete(entry.path);
          }}
        >
          <Icon name="trash" />
        </button>
      ) : null}
    </li>
  );
}

interface PackageListing {
  path: string;
  packages: { name: string; version: string }[];
  otherFiles: string[];
}

/**
 * Owners only: what `pip install` left in the notebook's own prefix (`.ynotebook/site-packages`),
 * which every kernel start imports and the file list never shows (docs/decisions/0025).
 */
function InstalledPackages({ notebookId, refreshKey }: { notebookId: string; refreshKey: unknown }) {
  const [listing, setListing] = useState<PackageListing | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [isRemoving, setIsRemoving] = useState(false);
  const url = `/api/notebooks/${encodeURIComponent(notebookId)}/packages`;
  const load = useCallback(async () => {
    try {
      setListing(await requestJSON<PackageListing>('GET', url));
      setError(null);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  }, [url]);
  useEffect(() => {
    void load();
  }, [load, refreshKey]);
  if (!listing || (!listing.packages.length && !listing.otherFiles.length)) {
    return error ? <p className="files-note" data-testid="packages-error">Installed packages: {error}</p> : null;
  }
  const remove = async () => {
    if (!window.confirm('Remove every package installed with pip in this notebook (and anything else in its pip folder)? The running kernel keeps what it already imported; the next start has none of them.')) return;
    setIsRemoving(true);
    try {
      await requestJSON('DELETE', url);
      await load();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setIsRemoving(false);
    }
  };
  return (
    <div className="files-note" data-testid="installed-packages">
      <p>
        <strong>Installed packages (pip):</strong>{' '}
        {listing.packages.length ? listing.packages.map((p) => `${p.name} ${p.version}`.trim()).join(', ') : 'none'}
      </p>
      {listing.otherFiles.length ? (
        <p data-testid="packages-other">
          Also in <code>{listing.path}/</code>, not from any package (imported at every kernel start if it is <code>sitecustomize.py</code>):{' '}
          {listing.otherFiles.join(', ')}
        </p>
      ) : null}
      <button type="button" className="btn btn-sm" data-testid="packages-remove" disabled={isRemoving} onClick={() => void remove()}>
        {isRemoving ? 'Removing…' : 'Remove all'}
      </button>
      {error ? <p data-testid="packages-error">{error}</p> : null}
    </div>
  );
}

export function FilesPanel({
  notebookId,
  files,
  canEdit = true,
  canManagePackages = false,
  onClose,
}: {
  notebookId: string;
  files: FilesApi;
  canEdit?: boolean;
  /** the owner (and the admin): sees and removes what pip installed */
  canManagePackages?: boolean;
  onClose: () => void;
}) {
  const inputRef = useRef<HTMLInputElement>(null);
  const groups = useMemo(() => (files.files ? groupFiles(files.files) : []), [files.files]);
  const isEmpty = files.files !== null && files.files.length === 0 && files.uploads.length === 0;

  return (
    <aside
      className="files-panel"
      data-testid="files-panel"
      aria-label="Files"
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          onClose();
        }
      }}
    >
      <div className="files-head">
        <h2 className="files-title">Files</h2>
        <span className="files-subtitle">working directory</span>
        {canEdit ? (
          <button type="button" className="btn btn-sm btn-primary files-upload" data-testid="files-upload" onClick={() => inputRef.current?.click()}>
            <Icon name="upload" /> Upload
          </button>
        ) : null}
        {canEdit ? (
          <input
            ref={inputRef}
            type="file"
            multiple
            hidden
            data-testid="files-input"
            onChange={(e) => {
              const picked = Array.from(e.currentTarget.files ?? []);
              e.currentTarget.value = '';
              if (picked.length) files.upload(picked.map((file) => ({ file, path: file.name })));
            }}
          />
        ) : null}
        <button
          type="button"
          className="file-action"
          data-testid="files-close"
          title="Close the Files panel (Esc)"
          aria-label="Close the Files panel"
          onClick={onClose}
        >
          <Icon name="close" />
        </button>
      </div>

      <div className="files-body">
        {files.uploads.length ? (
          <ul className="upload-list" data-testid="upload-list" aria-label="Uploads">
            {files.uploads.map((u) => (
              <UploadRow key={u.key} upload={u} onCancel={() => files.cancelUpload(u.key)} />
            ))}
          </ul>
        ) : null}

        {files.files === null ? (
          <p className="files-note" data-testid="files-loading">
            {files.isLoading ? 'Loading files… (the kernel may take a few seconds to start)' : 'Files are not loaded yet.'}
          </p>
        ) : isEmpty ? (
          <div className="files-empty" data-testid="files-empty">
            <p>No files yet.</p>
            {canEdit ? (
              <p>
                Drop files anywhere on the notebook, or Upload. Code reads them by name: <code>pd.read_csv('sales.csv')</code>.
              </p>
            ) : (
              <p>Files that the notebook's code reads and writes appear here, to download.</p>
            )}
          </div>
        ) : (
          <ul className="file-list" data-testid="file-list">
            {groups.map((group) => (
              <li key={group.folder || '.'} className="file-group">
                {group.folder ? (
                  <div className="file-folder" data-testid="file-folder" data-folder={group.folder}>
                    <Icon name="folder" />
                    <span>{group.folder}/</span>
                  </div>
                ) : null}
                <ul className={group.folder ? 'file-group-items is-nested' : 'file-group-items'}>
                  {group.files.map(({ entry, label }) => (
                    <FileRow key={entry.path} notebookId={notebookId} entry={entry} label={label} onDelete={canEdit ? (p) => void files.remove(p) : null} />
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        )}
        {files.isTruncated ? <p className="files-note">Only the first {files.files?.length ?? 0} files are listed.</p> : null}
        {canManagePackages && files.files !== null ? <InstalledPackages notebookId={notebookId} refreshKey={files.files} /> : null}
      </div>

      {files.files?.length ? (
        <p className="files-foot">
          Code reads files by name, e.g. <code>{readExample(files.files)}</code>
        </p>
      ) : null}
    </aside>
  );
}
