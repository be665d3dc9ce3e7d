// A device for pure tests: frames the stack sends are captured, frames the test injects are
// delivered synchronously, one batch per inject call.
import { newDeviceCounters, type Device, type FrameReceiver } from '../../src/link/device.js';
import { parseMac } from '../../src/wire/addr.js';

export class CaptureDevice implements Device {
  readonly counters = newDeviceCounters();
  readonly sent: Uint8Array[] = [];
  private receiver: FrameReceiver | null = null;
  closed = false;

  constructor(
    readonly name = 'cap0',
    readonly mac: Uint8Array = parseMac('00:00:5e:00:53:01')!,
    readonly mtu = 1500,
    readonly type: 'ethernet' | 'loopback' = 'ethernet',
  ) {}

  open(receiver: FrameReceiver): void {
    this.receiver = receiver;
  }

  send(frame: Uint8Array): void {
    this.counters.framesOut++;
    this.sent.push(frame.slice());
  }

  inject(...frames: Uint8Array[]): void {
    if (this.receiver === null) throw new Error('device not opened');
    for (const f of frames) this.receiver.receiveFrame(this, f);
    this.receiver.endBatch(this);
  }

  take(): Uint8Array[] {
    return this.sent.splice(0, this.sent.length);
  }

  close(): void {
    this.closed = true;
  }
}

export function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
