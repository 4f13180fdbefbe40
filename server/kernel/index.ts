// server/kernel: the only importer of @jupyterlab/services. Knows nothing of Yjs.
export { KernelService } from './kernel-service.js';
export { KernelError, isKernelError, type KernelErrorCode } from './errors.js';
export type {
  ExecuteOptions,
  ExecuteResult,
  KernelOutputMessage,
  KernelOutputMsgType,
  KernelServiceOptions,
  KernelStatus,
  NotebookKernel,
  CompleteResult,
  InspectResult,
} from './types.js';
export { DEFAULT_IDLE_CULL_MS, DEFAULT_EVAL_TIMEOUT_MS, COMPLETE_TIMEOUT_MS, INSPECT_REQUEST_TIMEOUT_MS } from './notebook-kernel.js';
export { notebookWorkDir } from './kernel-env.js';
