/**
 * What `pstack ping` needs from one address family: the header line, sending a request, and
 * the replies and errors about its own requests, reduced to the text iputils prints. The
 * session (ping.ts) does the timing, counting and printing for both families.
 */

/** Where a path hands what came back (implemented by PingSession). */
export interface EchoSink {
  /** A reply to one of our requests: `length` is the ICMP message's, `payload` its data. */
  reply(from: string, seq: number, ttl: number, length: number, payload: Uint8Array): void;
  /** An error about request `seq`, in iputils' words; `counted` false for advice (redirects). */
  error(from: string, seq: number, text: string, counted: boolean, verboseText: string): void;
}

export interface EchoPath {
  /** "PING ..." with its newline. `interfaceText` is -I's interface name, when given. */
  headerLine(destinationText: string, size: number, interfaceText: string | null): string;
  /** Start listening for replies with identifier `id`. */
  open(id: number, sink: EchoSink): void;
  close(): void;
  /** Send one request; false when it could not go (no route). */
  send(id: number, seq: number, data: Uint8Array, ttl: number | null): boolean;
  /** The error Linux reports at once for a next hop whose resolution just failed, else null. */
  failedNeighbor(): { from: string; text: string } | null;
  /** A request is still queued behind ARP / Neighbor Discovery. */
  awaitingResolution(): boolean;
  /** Text printed after the reply just handed to the sink (IPv4's recorded route), else ''. */
  replyTrailer(): string;
}
