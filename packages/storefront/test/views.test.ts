// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createViewTracker } from '../src';
import { FakeIntersectionObserver } from './fakes';

let visibility: DocumentVisibilityState = 'visible';
const onView = vi.fn();

beforeEach(() => {
  vi.useFakeTimers();
  vi.stubGlobal('IntersectionObserver', FakeIntersectionObserver);
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => visibility });
  visibility = 'visible';
  onView.mockReset();
  FakeIntersectionObserver.instances = [];
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

function setVisibility(state: DocumentVisibilityState) {
  visibility = state;
  document.dispatchEvent(new Event('visibilitychange'));
}

describe('createViewTracker', () => {
  it('counts a card at least 50% visible for 1 s as one view per decision', () => {
    const tracker = createViewTracker(onView);
    const card = document.createElement('div');
    tracker.observe(card, 'd1', 'a');
    FakeIntersectionObserver.report(card, 0.5);
    vi.advanceTimersByTime(999);
    expect(onView).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onView).toHaveBeenCalledWith('d1', 'a');
    // Scrolled away and back, re-rendered: still one view for this decision.
    FakeIntersectionObserver.report(card, 0);
    tracker.observe(card, 'd1', 'a');
    FakeIntersectionObserver.report(card, 1);
    vi.advanceTimersByTime(5000);
    expect(onView).toHaveBeenCalledTimes(1);
    // A new decision showing the same card is a new view.
    tracker.observe(card, 'd2', 'a');
    FakeIntersectionObserver.report(card, 1);
    vi.advanceTimersByTime(1000);
    expect(onView).toHaveBeenLastCalledWith('d2', 'a');
    expect(onView).toHaveBeenCalledTimes(2);
    tracker.dispose();
  });

  it('never counts a card under 50% visible', () => {
    const tracker = createViewTracker(onView);
    const card = document.createElement('div');
    tracker.observe(card, 'd1', 'a');
    FakeIntersectionObserver.report(card, 0.49);
    vi.advanceTimersByTime(10_000);
    expect(onView).not.toHaveBeenCalled();
    tracker.dispose();
  });

  it('restarts the second when the card drops below the threshold', () => {
    const tracker = createViewTracker(onView);
    const card = document.createElement('div');
    tracker.observe(card, 'd1', 'a');
    FakeIntersectionObserver.report(card, 0.8);
    vi.advanceTimersByTime(600);
    FakeIntersectionObserver.report(card, 0.3);
    vi.advanceTimersByTime(100);
    FakeIntersectionObserver.report(card, 0.8);
    vi.advanceTimersByTime(900);
    expect(onView).not.toHaveBeenCalled();
    vi.advanceTimersByTime(100);
    expect(onView).toHaveBeenCalledTimes(1);
    tracker.dispose();
  });

  it('does not count time while the page is hidden', () => {
    const tracker = createViewTracker(onView);
    const card = document.createElement('div');
    tracker.observe(card, 'd1', 'a');
    FakeIntersectionObserver.report(card, 1);
    vi.advanceTimersByTime(700);
    setVisibility('hidden');
    vi.advanceTimersByTime(5000);
    expect(onView).not.toHaveBeenCalled();
    setVisibility('visible');
    vi.advanceTimersByTime(999);
    expect(onView).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onView).toHaveBeenCalledTimes(1);
    tracker.dispose();
  });

  it('does not start counting for a card that becomes visible while the page is hidden', () => {
    const tracker = createViewTracker(onView);
    const card = document.createElement('div');
    setVisibility('hidden');
    tracker.observe(card, 'd1', 'a');
    FakeIntersectionObserver.report(card, 1);
    vi.advanceTimersByTime(3000);
    expect(onView).not.toHaveBeenCalled();
    tracker.dispose();
  });

  it('stops counting for an unobserved card and after dispose()', () => {
    const tracker = createViewTracker(onView, { dwellMs: 500, threshold: 0.75 });
    const a = document.createElement('div');
    const b = document.createElement('div');
    const stopA = tracker.observe(a, 'd1', 'a');
    tracker.observe(b, 'd1', 'b');
    FakeIntersectionObserver.report(a, 0.7);
    vi.advanceTimersByTime(1000);
    expect(onView).not.toHaveBeenCalled(); // under the custom threshold
    FakeIntersectionObserver.report(a, 0.8);
    FakeIntersectionObserver.report(b, 0.8);
    vi.advanceTimersByTime(400);
    stopA();
    tracker.dispose();
    vi.advanceTimersByTime(1000);
    expect(onView).not.toHaveBeenCalled();
  });

  it('does nothing without IntersectionObserver', () => {
    vi.stubGlobal('IntersectionObserver', undefined);
    const tracker = createViewTracker(onView);
    const stop = tracker.observe(document.createElement('div'), 'd1', 'a');
    stop();
    tracker.dispose();
    expect(onView).not.toHaveBeenCalled();
  });
});
