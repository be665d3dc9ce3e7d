/**
 * The transports the network layer was handed, by IP protocol number (as gVisor's stack is
 * given its protocols): input goes to them by number, errors about what they sent go back to
 * them, and each input batch's end reaches those that coalesce output.
 */

import type { EndpointProvider, TransportError, TransportProtocol } from './network.js';

export class TransportRegistry {
  private readonly byNumber: Array<TransportProtocol | undefined> = new Array(256);
  /** The registered protocols that have an endBatch (a batch end walks only these). */
  batchHandlers: TransportProtocol[] = [];
  /** Transports register here so `pstack netstat` can list every socket. */
  readonly endpointProviders: EndpointProvider[] = [];

  register(protocol: TransportProtocol, endpoints?: EndpointProvider): void {
    this.byNumber[protocol.protocolNumber] = protocol;
    this.batchHandlers = this.byNumber.filter((p): p is TransportProtocol => p?.endBatch !== undefined);
    if (endpoints !== undefined && !this.endpointProviders.includes(endpoints)) this.endpointProviders.push(endpoints);
  }

  get(protocolNumber: number): TransportProtocol | undefined {
    return this.byNumber[protocolNumber];
  }

  /** Hand an error about a datagram we sent to the protocol that sent it. */
  deliverError(protocolNumber: number, err: TransportError): void {
    this.byNumber[protocolNumber]?.error?.(err);
  }
}
