/**
 * pstack's public entry: the stack, its devices, and the pieces people build on.
 *
 *   import { Stack, TapDevice, LoopbackDevice, MemoryWire } from 'pstack';
 */

// The Stack people use: the host with UDP and TCP registered, and the socket APIs.
export { Stack } from './api/stack.js';
export type { StackOptions } from './api/stack.js';
export { openTapStack, openTapHost, TapSetupError } from './api/tap-host.js';
export type { TapStackOptions, TapHostSpec, TapHost, TapSpec } from './api/tap-host.js';
export { Host } from './stack/host.js';
export type { HostOptions } from './stack/host.js';
export { TX_HEADROOM } from './stack/network.js';
export { Socket, Server } from './api/net.js';
export type { ConnectOptions, ServerOptions, SocketOptions } from './api/net.js';
export { UdpSocket } from './api/dgram.js';
export type { RemoteInfo } from './api/dgram.js';
export type {
  NetworkLayer, TransportProtocol, InboundPacket, TransportError, RouteResult, IpOutputOptions, EndpointInfo, EndpointProvider, IpAddress,
} from './stack/network.js';
export { UdpLayer } from './transport/udp.js';
export { Tcp } from './transport/tcp/tcp.js';
export type { IcmpListener, EchoOptions } from './stack/icmp.js';
export { Counters } from './stack/counters.js';
export { Interface } from './stack/interface.js';
export { RouteTable } from './stack/routes.js';
export type { Route } from './stack/routes.js';
export { NeighborCache } from './stack/neighbors.js';
export type { PacketObserver, StackEvents, Direction } from './stack/observer.js';

export type { Device, FrameReceiver, DeviceCounters, DeviceType } from './link/device.js';
export { TapDevice, DEFAULT_TAP_MAC } from './link/tap.js';
export { LoopbackDevice } from './link/loopback.js';
export { MemoryWire, MemoryWireDevice } from './link/memory-wire.js';
export { PcapWriter, PcapDevice } from './link/pcap-writer.js';

export { Timers, Timer, FakeClock, systemClock } from './time/clock.js';
export type { Clock } from './time/clock.js';

export * as wire from './wire/index.js';
export { parseIpv4, ipv4ToString, parseCidr, parseMac, macToString } from './wire/addr.js';

export { createLogger, parseLogLevel, silentLogger } from './observe/log.js';
export type { Logger, LogLevel } from './observe/log.js';
export { dissectFrame } from './observe/dissect.js';
export { summarizeFrame } from './observe/summary.js';
export { hexdumpX } from './observe/hexdump.js';
