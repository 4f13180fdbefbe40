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
}

export interface AppServices {
  listNotebooks(): Promise<NotebookSummary[]>;
  createNotebook(opts: { title?: string }): Promise<{ id: string }>;
  getNotebook(id: string): Promise<NotebookSummary | null>;
  modelInfo(): ModelInfo;
}

declare module '@remix-run/node' {
  interface AppLoadContext {
    services: AppServices;
  }
}
