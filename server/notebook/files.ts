// The files of a notebook's working directory: the kernel layer moves the bytes; this layer picks
// the notebook's kernel (starting it when none runs) and tells every client that the list changed.
import { markFilesChanged } from '../../common/notebook/model';
import { ORIGIN_SERVER } from '../sync/room';
import type { RoomManager } from '../sync/rooms';
import {
  deleteFile,
  listFiles,
  listPackages,
  putFile,
  readFile,
  removePackages,
  DEFAULT_FILE_LIMITS,
  type FileLimits,
  type FileReader,
} from '../kernel/kernel-files';
import type { ExecutionService } from './execution';

export class FilesService {
  readonly limits: FileLimits;

  constructor(
    private rooms: RoomManager,
    private execution: ExecutionService,
    limits: Partial<FileLimits> = {},
  ) {
    this.limits = { ...DEFAULT_FILE_LIMITS, ...limits };
  }

  private async kernel(notebookId: string) {
    return (await this.execution.runner(notebookId)).kernel;
  }

  private async changed(notebookId: string): Promise<void> {
    const held = await this.rooms.acquire(notebookId);
    if (!held) return;
    try {
      held.room.doc.transact(() => markFilesChanged(held.room.doc), ORIGIN_SERVER);
    } finally {
      held.release();
    }
  }

  async list(notebookId: string) {
    return listFiles(await this.kernel(notebookId), this.limits);
  }

  async put(notebookId: string, path: string, body: AsyncIterable<Uint8Array>, size?: number) {
    const kernel = await this.kernel(notebookId);
    try {
      return await putFile(kernel, path, body, { size, limits: this.limits });
    } finally {
      // a failed upload leaves nothing, but a replaced file or a new folder may still show
      await this.changed(notebookId);
    }
  }

  async read(notebookId: string, path: string): Promise<FileReader> {
    return readFile(await this.kernel(notebookId), path);
  }

  /** What `pip install` put in the notebook's own prefix (docs/decisions/0025). */
  async packages(notebookId: string) {
    return listPackages(await this.kernel(notebookId));
  }

  async removePackages(notebookId: string) {
    try {
      return await removePackages(await this.kernel(notebookId));
    } finally {
      await this.changed(notebookId);
    }
  }

  async delete(notebookId: string, path: string): Promise<void> {
    await deleteFile(await this.kernel(notebookId), path);
    await this.changed(notebookId);
  }
}
