/**
 * Keeping the receive path warm while a device busy-polls and finds nothing (TapDevice with
 * --busy-poll): the last echo request answered in place is replayed through the whole
 * receive path with output and counters muted, so the next real frame finds code and data in
 * the CPU's caches (like OpenOnload's ONLOAD_MSG_WARM on the send side). Nothing leaves,
 * nothing is counted, no state changes: the IP identification is put back, a frame whose next
 * hop is not resolved is not queued and no ARP probe is sent. Skipped while an observer
 * (pcap, frame log) watches, which would otherwise see the replay. Until an echo has been
 * answered there is nothing to replay; a replay that no longer reaches output (address or
 * route changed) is forgotten until the next echo.
 */

import type { Device } from '../link/device.js';
import type { Counters } from './counters.js';
import type { LinkOutput } from './link-output.js';
import type { Ipv4Output } from './ipv4-output.js';

export class WarmPath {
  /** Replays run (not in the counters, which a replay mutes). */
  replays = 0;
  private wanted = false;
  private templateLength = 0;
  private template = new Uint8Array(0);
  private device: Device | null = null;
  /** What a replay runs on: a copy of the template, since the echo is answered in place. */
  private frame = new Uint8Array(0);
  private readonly savedCounters: number[] = [];

  constructor(
    private readonly link: LinkOutput,
    private readonly output: Ipv4Output,
    private readonly counters: Counters,
    /** The host's receive entry point the replay goes through. */
    private readonly receive: (device: Device, frame: Uint8Array) => void,
  ) {}

  warm(device: Device): void {
    this.wanted = true;
    const link = this.link;
    if (this.templateLength === 0 || this.device !== device || link.observer !== null || link.muted) return;
    this.frame.set(this.template);
    const counters = this.counters;
    counters.save(this.savedCounters);
    const id = this.output.nextId;
    counters.muted = true;
    link.muted = true;
    link.mutedOutputReached = false;
    this.replays++;
    try {
      this.receive(device, this.frame);
    } finally {
      counters.restore(this.savedCounters);
      counters.muted = false;
      this.output.nextId = id;
      link.muted = false;
    }
    if (!link.mutedOutputReached) this.templateLength = 0;
  }

  /**
   * ICMP's in-place echo reply offers the request as it arrived, before rewriting it: once
   * warm() has been asked for and while there is nothing to replay, it becomes the frame the
   * warm passes replay (kept until a replay no longer reaches output).
   */
  keep(device: Device, buf: Uint8Array, offset: number, length: number): void {
    if (!this.wanted || this.templateLength !== 0 || this.link.muted) return;
    this.template = buf.slice(offset, offset + length);
    this.frame = new Uint8Array(length);
    this.templateLength = length;
    this.device = device;
  }
}
