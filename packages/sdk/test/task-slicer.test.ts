import { describe, expect, it } from 'vitest';
import { createTaskSlicer } from '../src/policy/task-slicer';

describe('task slicer', () => {
  it('yields once an uninterrupted run of work passes its budget, then starts a new run', async () => {
    let clock = 0;
    let yields = 0;
    const slicer = createTaskSlicer(
      40,
      () => clock,
      async () => void yields++,
    );
    // Back-to-back calls in one task (no timer can fire in between): 10 ms of work each.
    const waits: boolean[] = [];
    for (let i = 0; i < 10; i++) {
      const turn = slicer.turn();
      waits.push(turn !== undefined);
      if (turn) await turn;
      clock += 10;
    }
    // Calls at 0-30 ms fit the budget; the call at 40 ms yields and starts a new run, so does the one at 80 ms.
    expect(waits).toEqual([false, false, false, false, true, false, false, false, true, false]);
    expect(yields).toBe(2);
  });

  it('does not yield when the event loop turned between calls', async () => {
    let clock = 0;
    let yields = 0;
    const slicer = createTaskSlicer(
      40,
      () => clock,
      async () => void yields++,
    );
    for (let i = 0; i < 10; i++) {
      expect(slicer.turn()).toBeUndefined();
      clock += 30;
      await new Promise((r) => setTimeout(r, 1)); // a task boundary, as between user clicks
    }
    expect(yields).toBe(0);
  });

  it('really lets a timer run between back-to-back calls with the platform yield', async () => {
    const slicer = createTaskSlicer(5);
    let timerRan = false;
    setTimeout(() => (timerRan = true), 0);
    const start = performance.now();
    let sawTimerMidLoop = false;
    while (performance.now() - start < 100 && !sawTimerMidLoop) {
      const turn = slicer.turn();
      if (turn) await turn;
      const t = performance.now();
      while (performance.now() - t < 2); // 2 ms of "ranking"
      sawTimerMidLoop = timerRan;
    }
    expect(sawTimerMidLoop).toBe(true);
  });
});
