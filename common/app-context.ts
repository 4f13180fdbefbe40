// What the server hands to Remix loaders and actions (getLoadContext). The app never imports
// server/ code; it talks to the server's services only through this interface.

export interface NotebookSummary {
  id: string;
  title: string;
  createdAt: number;
  updatedAt: number;
}

export interface ModelInfo {
  /** null when no model endpoint is configured */
  model: string | null;
  endpoint: string | null;
  /**
   * Requests this model is known to answer, offered in the ask bar (the offline demo's scripted
   * ones); empty for a real model. Never anything secret: the whole object reaches the browser.
   */
  suggestions?: string[];
}

/** Whether this server's kernels run in the sandbox; null with an external gateway (its business). */
export interface KernelSandboxInfo {
  active: boolean;
  reason?: string;
}

export interface AppServices {
  listNotebooks(): Promise<NotebookSummary[]>;
  createNotebook(opts: { title?: string }): Promise<{ id: string; token: string }>;
  getNotebook(id: string): Promise<NotebookSummary | null>;
  /** what the page may show of the model: the endpoint's host only to editors and up */
  modelInfo(role: ViewerInfo['role']): ModelInfo;
  /** the kernels' sandbox state (null: an external gateway's, or the gateway is not up) */
  kernelSandbox(): Promise<KernelSandboxInfo | null>;
}

/** Who is looking at a page: their role on the page's notebook (`admin` anywhere), or null. */
export interface ViewerInfo {
  role: 'viewer' | 'editor' | 'owner' | 'admin' | null;
}

declare module '@remix-run/node' {
  interface AppLoadContext {
    services: AppServices;
    viewer: ViewerInfo;
  }
}
