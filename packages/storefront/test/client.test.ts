// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { VitrineError, type VitrineOptions } from '@vitrine/sdk';
import { acquireClient, createSlotRanking, track } from '../src';
import { ACTIVITIES, FakeClient } from './fakes';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function factory(client = new FakeClient()) {
  const create = vi.fn(async (_options: VitrineOptions) => client.asVitrine());
  return { client, create };
}

describe('acquireClient', () => {
  it('keeps one client across a release and an acquire in the same tick (StrictMode remount)', async () => {
    const { client, create } = factory();
    const options = { model: '/m.json' };
    const first = acquireClient(options, create);
    first.release();
    const second = acquireClient(options, create);
    await vi.runAllTimersAsync();
    expect(create).toHaveBeenCalledTimes(1);
    expect(client.closed).toBe(0);
    expect(second.client).toBe(client);
    expect(await first.ready).toBe(client);
    second.release();
    await vi.runAllTimersAsync();
    expect(client.closed).toBe(1);
  });

  it('closes when the last reference goes, once, and a later acquire creates a new client', async () => {
    const { client, create } = factory();
    const options = { model: '/m.json' };
    const a = acquireClient(options, create);
    const b = acquireClient(options, create);
    a.release();
    a.release(); // a second release of the same reference does not count
    await vi.runAllTimersAsync();
    expect(client.closed).toBe(0);
    b.release();
    await vi.runAllTimersAsync();
    expect(client.closed).toBe(1);
    const c = acquireClient(options, create);
    expect(create).toHaveBeenCalledTimes(2);
    c.release();
  });

  it('gives separate providers (options objects) separate clients', () => {
    const { create } = factory();
    const a = acquireClient({ model: '/m.json' }, create);
    const b = acquireClient({ model: '/m.json' }, create);
    expect(create).toHaveBeenCalledTimes(2);
    a.release();
    b.release();
  });

  it('closes a client that arrives after its last reference was released', async () => {
    const client = new FakeClient();
    let resolve!: () => void;
    const create = vi.fn(() => new Promise<void>((r) => (resolve = r)).then(() => client.asVitrine()));
    const handle = acquireClient({ model: '/m.json' }, create);
    handle.release();
    await vi.runAllTimersAsync();
    resolve();
    expect(await handle.ready).toBeNull();
    expect(client.closed).toBe(1);
  });

  it('publishes status and consent changes to subscribers, with stable snapshots in between', async () => {
    const { client, create } = factory(new FakeClient('none'));
    const handle = acquireClient({ model: '/m.json', consent: 'none' }, create);
    const before = handle.state();
    expect(before).toMatchObject({ client: null, status: null, consent: 'none', error: null });
    const listener = vi.fn();
    handle.subscribe(listener);
    await handle.ready;
    expect(listener).toHaveBeenCalledTimes(1);
    const ready = handle.state();
    expect(ready.client).toBe(client);
    expect(ready.status).toBe(client.status);
    expect(handle.state()).toBe(ready);
    await handle.setConsent('signals');
    expect(handle.state().consent).toBe('signals');
    expect(listener).toHaveBeenCalledTimes(2);
    handle.refresh(); // nothing changed: no notification, same snapshot
    expect(listener).toHaveBeenCalledTimes(2);
    handle.release();
  });

  it('shows the shop default consent before the client exists', () => {
    const { create } = factory();
    const handle = acquireClient({ model: '/m.json' }, create);
    expect(handle.state().consent).toBe('profile');
    handle.release();
  });

  it('reports a creation failure in the state and through onError; slots keep the shop order', async () => {
    const error = new VitrineError('invalid_options', 'model is required');
    const onError = vi.fn();
    const handle = acquireClient({ model: '', onError }, () => Promise.reject(error));
    expect(await handle.ready).toBeNull();
    expect(handle.state().error).toBe(error);
    expect(onError).toHaveBeenCalledWith(error);
    const slot = createSlotRanking(handle, ACTIVITIES, {}, () => Date.now());
    slot.start();
    await vi.runAllTimersAsync();
    expect(slot.snapshot()).toMatchObject({ phase: 'failed', decision: null, items: ACTIVITIES });
    handle.release();
  });
});

describe('track', () => {
  it('records through the client and never rejects; failures go to onError', async () => {
    const { client, create } = factory();
    const handle = acquireClient({ model: '/m.json' }, create);
    await track(handle, 'd1', 'a', 'click');
    expect(client.tracked).toEqual([['d1', 'a', 'click']]);
    client.failTrack = true;
    const onError = vi.fn();
    await expect(track(handle, 'd1', 'a', 'click', onError)).resolves.toBeUndefined();
    expect(onError).toHaveBeenCalledTimes(1);
    handle.release();
  });
});
