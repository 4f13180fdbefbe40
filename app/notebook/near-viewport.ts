// One IntersectionObserver for the whole page that says when an element first comes near the screen:
// a static source gets its highlighting only then (docs/decisions/0017-open-benchmark.md).

/** How far off screen (of the viewport's height, above and below) counts as near. */
export const NEAR_MARGIN = '100% 0px';

let observer: IntersectionObserver | null = null;
const callbacks = new WeakMap<Element, () => void>();

/** Calls `onNear` once, when `el` comes within NEAR_MARGIN of the viewport; returns a cancel. */
export function observeNear(el: Element, onNear: () => void): () => void {
  if (typeof IntersectionObserver !== 'function') {
    onNear();
    return () => {};
  }
  observer ??= new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        const callback = entry.isIntersecting ? callbacks.get(entry.target) : undefined;
        if (!callback) continue;
        callbacks.delete(entry.target);
        observer?.unobserve(entry.target);
        callback();
      }
    },
    { rootMargin: NEAR_MARGIN },
  );
  callbacks.set(el, onNear);
  observer.observe(el);
  return () => {
    callbacks.delete(el);
    observer?.unobserve(el);
  };
}
