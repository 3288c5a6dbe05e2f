import { describe, expect, it } from 'vitest';
import { DECISIONS_KEPT, PLACEMENTS_KEPT, createDecisionLog } from '../src/policy/decision-log';
import type { Activity } from '../src/types';

const items = (prefix: string, n: number): Activity[] => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, type: 'Bar' }));

describe('decision log', () => {
  it('remembers the placed items (and placements) of a decision', () => {
    const log = createDecisionLog<{ slot: number }>();
    log.remember('d1', items('a', 2), new Map([['a0', { slot: 0 }]]));
    expect([...log.get('d1')!.activities.keys()]).toEqual(['a0', 'a1']);
    expect(log.get('d1')!.placements?.get('a0')).toEqual({ slot: 0 });
    expect(log.get('nope')).toBeUndefined();
  });

  it('keeps a copy: the page changing its objects after rank() changes nothing that track() reads', () => {
    const log = createDecisionLog();
    const placed: Activity = { id: 'x', type: 'Bar', features: { colour: 'red' }, endsAt: 5 };
    log.remember('d1', [placed]);
    placed.type = 'Coffee House';
    placed.features!.colour = 'blue';
    expect(log.get('d1')!.activities.get('x')).toEqual({ id: 'x', type: 'Bar', features: { colour: 'red' }, endsAt: 5 });
  });

  it(`keeps the newest ${DECISIONS_KEPT} decisions`, () => {
    const log = createDecisionLog();
    for (let d = 0; d <= DECISIONS_KEPT; d++) log.remember(`d${d}`, items('a', 1));
    expect(log.get('d0')).toBeUndefined();
    expect(log.get('d1')).toBeDefined();
    expect(log.get(`d${DECISIONS_KEPT}`)).toBeDefined();
  });

  it(`keeps at most ${PLACEMENTS_KEPT} placements, oldest decisions first out, but always the newest decision`, () => {
    const log = createDecisionLog();
    const big = PLACEMENTS_KEPT / 4;
    for (let d = 0; d < 4; d++) log.remember(`d${d}`, items('a', big));
    expect(log.get('d0')).toBeDefined(); // exactly at the bound
    log.remember('d4', items('b', 1));
    expect(log.get('d0')).toBeUndefined();
    expect(log.get('d1')).toBeDefined();
    // One decision above the bound on its own still stays trackable.
    log.remember('huge', items('c', PLACEMENTS_KEPT + 1));
    expect(log.get('d4')).toBeUndefined();
    expect(log.get('huge')!.activities.size).toBe(PLACEMENTS_KEPT + 1);
    // ...and the count starts again from it: one small decision more drops it.
    log.remember('small', items('d', 1));
    expect(log.get('huge')).toBeUndefined();
    expect(log.get('small')).toBeDefined();
  });

  it('drops placements on consent withdrawal and everything on clear', () => {
    const log = createDecisionLog<number>();
    log.remember('d1', items('a', 1), new Map([['a0', 1]]));
    log.dropPlacements();
    expect(log.get('d1')).toEqual({ activities: new Map([['a0', { id: 'a0', type: 'Bar' }]]) });
    log.clear();
    expect(log.get('d1')).toBeUndefined();
    // The placement count was reset too: a full set of decisions fits again.
    for (let d = 0; d < 4; d++) log.remember(`d${d}`, items('a', PLACEMENTS_KEPT / 4));
    expect(log.get('d0')).toBeDefined();
  });
});
