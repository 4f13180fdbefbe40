// What the server knows of the offline demo model (`npm run demo`, demo/offline-model.ts): its
// name, by which the server recognises it, and the requests its script understands, which the UI
// offers as suggestions. A real model gets none: it understands anything, and a list would only
// narrow what people think to ask.
import type { ModelConfig } from './provider';

/** The demo's model name: says in the UI that it is scripted, not a language model. */
export const DEMO_MODEL_NAME = 'offline-demo (scripted, not a language model)';

/** The requests the offline demo's script answers, in the order that tells its story. */
export const DEMO_REQUESTS: readonly string[] = ['make sample sales data', 'plot it', 'describe it', 'load the csv', 'show the fix loop'];

/** Requests to suggest in the ask bar for this model: the demo's, or none. */
export function suggestionsFor(model: Pick<ModelConfig, 'model'> | null): string[] {
  return model?.model === DEMO_MODEL_NAME ? [...DEMO_REQUESTS] : [];
}
