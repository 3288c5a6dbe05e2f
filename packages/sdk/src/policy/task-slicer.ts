/**
 * Keeps a page that calls rank() back to back from building one long main-thread task.
 *
 * On WASM and CPU a rank resolves through microtasks only, so `for (...) await vitrine.rank(...)`
 * never lets the event loop turn: 100 calls were one 270–430 ms task. The slicer notes when a
 * run of work began and whether a task boundary has passed since (a message posted to itself
 * arrives only after the current task ends). A rank that starts more than `budgetMs` into an
 * uninterrupted run first yields to the event loop, so input and rendering get a turn.
 */
export interface TaskSlicer {
  /** A promise to await before working, or undefined when no yield is needed (the common case). */
  turn(): Promise<void> | undefined;
}

type Yield = () => Promise<void>;

/** `scheduler.yield()` where the browser has it (keeps the caller's priority), else a posted message. */
export function platformYield(): Yield {
  const scheduler = (globalThis as { scheduler?: { yield?: () => Promise<void> } }).scheduler;
  if (typeof scheduler?.yield === 'function') return () => scheduler.yield!();
  if (typeof MessageChannel === 'function') {
    return () =>
      new Promise<void>((resolve) => {
        const channel = new MessageChannel();
        channel.port1.onmessage = () => {
          channel.port1.close();
          resolve();
        };
        channel.port2.postMessage(0);
      });
  }
  return () => new Promise<void>((resolve) => setTimeout(resolve, 0));
}

export function createTaskSlicer(
  budgetMs = 40,
  now: () => number = () => performance.now(),
  yieldNow: Yield = platformYield(),
): TaskSlicer {
  let runStart = 0;
  let boundaryPassed = true;
  const markBoundary = () => {
    boundaryPassed = true;
  };
  const startRun = () => {
    runStart = now();
    boundaryPassed = false;
    // Fires once the current task is over (a macrotask): the run is then interrupted.
    setTimeout(markBoundary, 0);
  };
  return {
    turn() {
      if (boundaryPassed) {
        startRun();
        return undefined;
      }
      if (now() - runStart < budgetMs) return undefined;
      return yieldNow().then(startRun);
    },
  };
}
