/**
 * Several watchers of the same traffic (the debug log, a capture file, `pstack capture`
 * clients, the web page) behind the stack's one observer hook.
 *
 * The hook stays null while nobody watches: a non-null observer costs a call per frame and
 * turns off the warm-path replay (warm.ts), so the hub installs itself only while it has
 * watchers, and hands the hook a lone watcher directly instead of fanning out to one.
 * Watchers get the frame's bytes without a copy, valid only during the call, as the hook does.
 */

import type { Device } from '../link/device.js';
import type { Direction, PacketObserver } from './observer.js';

export class ObserverHub {
  private watchers: PacketObserver[] = [];
  private readonly fanOut: PacketObserver;

  /** `install` sets the stack's observer hook (null: nobody watches). */
  constructor(private readonly install: (observer: PacketObserver | null) => void) {
    const hub = this;
    this.fanOut = {
      frame(direction: Direction, device: Device, buf: Uint8Array, offset: number, length: number): void {
        // A watcher that adds or removes watchers while called must not disturb this loop.
        const list = hub.watchers;
        for (let i = 0; i < list.length; i++) list[i]!.frame(direction, device, buf, offset, length);
      },
    };
    install(null);
  }

  get size(): number {
    return this.watchers.length;
  }

  /** Start showing frames to `watcher`; returns the function that stops it (idempotent). */
  add(watcher: PacketObserver): () => void {
    this.watchers = [...this.watchers, watcher];
    this.reinstall();
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.watchers = this.watchers.filter((w) => w !== watcher);
      this.reinstall();
    };
  }

  private reinstall(): void {
    const n = this.watchers.length;
    this.install(n === 0 ? null : n === 1 ? this.watchers[0]! : this.fanOut);
  }
}
