// Notebook records: create, list, look up. The document itself lives in the sync rooms.
import { cleanTitle } from '../../common/notebook/model';
import type { NotebookRecord, Storage } from '../storage/types';
import { hashToken, newGrantId, newToken } from '../access/tokens';

export const NOTEBOOK_ID_PATTERN = /^[a-z0-9]{12}$/;

export function newNotebookId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

export class NotebookService {
  constructor(private storage: Storage) {}

  /**
   * `initialState`: the whole document as one Yjs update (an import). The record, its content and
   * its owner's grant are stored in one step; the owner token is returned once, never stored.
   */
  async create(opts: { title?: unknown; initialState?: Uint8Array } = {}): Promise<NotebookRecord & { ownerToken: string }> {
    const id = newNotebookId();
    const ownerToken = newToken();
    const grant = { id: newGrantId(), notebookId: id, role: 'owner' as const, tokenHash: hashToken(ownerToken), createdAt: Date.now() };
    const rec = await this.storage.createNotebook({ id, title: cleanTitle(opts.title) }, opts.initialState, grant);
    return { ...rec, ownerToken };
  }

  /**
   * Brings the record's title up to the document's after a rename. The room touches the record
   * after every stored update too, without waiting; this makes the list current once a rename answers.
   */
  async recordTitle(id: string, title: string): Promise<void> {
    await this.storage.touchNotebook(id, { title: cleanTitle(title), updatedAt: Date.now() });
  }

  /** Removes the record, its document and its grants (the callers stop its room and kernel first). */
  async delete(id: string): Promise<boolean> {
    if (!(await this.get(id))) return false;
    await this.storage.deleteNotebook(id);
    return true;
  }

  async get(id: string): Promise<NotebookRecord | null> {
    if (!NOTEBOOK_ID_PATTERN.test(id)) return null;
    return this.storage.getNotebook(id);
  }

  list(): Promise<NotebookRecord[]> {
    return this.storage.listNotebooks();
  }
}
