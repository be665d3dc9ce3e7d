/**
 * One received segment, parsed once into plain fields (RFC 9293 3.10.7 "SEGMENT ARRIVES"
 * works on SEG.SEQ, SEG.ACK, SEG.LEN, SEG.WND and the control bits). There is one `Segment`
 * per Tcp instance, reused for every segment: the input path allocates nothing.
 */

import { TcpFlag, TcpSegment } from '../../wire/tcp.js';
import { TcpOptions } from '../../wire/tcp-options.js';
import type { IpAddress } from '../../stack/network.js';

const { SYN, FIN } = TcpFlag;

export class Segment {
  readonly view = new TcpSegment();
  readonly opts = new TcpOptions();
  buf: Uint8Array = new Uint8Array(0);
  src: IpAddress = 0;
  dst: IpAddress = 0;
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  /** The raw (unscaled) window field. */
  wnd = 0;
  dataOffset = 0;
  dataLength = 0;
  /** The IP ECN field it arrived with (RFC 3168: 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE). */
  ecn = 0;

  /** SEG.LEN: data plus one for SYN and one for FIN. */
  get segLen(): number {
    return this.dataLength + ((this.flags & SYN) !== 0 ? 1 : 0) + ((this.flags & FIN) !== 0 ? 1 : 0);
  }
}
