/**
 * pstack's public entry: the stack, its devices, and the pieces people build on.
 *
 *   import { Stack, TapDevice, LoopbackDevice, MemoryWire } from 'pstack';
 */

// The Stack people use carries the socket APIs; StackCore is the host without them.
export { Stack, openTapStack } from './api/stack.js';
export type { TapStackOptions } from './api/stack.js';
export { Stack as StackCore, TX_HEADROOM } from './stack/stack.js';
export { Socket, Server, createTcp } from './api/net.js';
export type { ConnectOptions, ServerOptions, SocketOptions } from './api/net.js';
export { UdpSocket } from './api/dgram.js';
export type { RemoteInfo } from './api/dgram.js';
export type { StackOptions, IpProtocolHandler, RouteResult, IpOutputOptions, EndpointInfo, EndpointProvider } from './stack/stack.js';
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
export { dissectFrame, summarizeFrame } from './observe/dissect.js';
export { hexdumpX } from './observe/hexdump.js';
