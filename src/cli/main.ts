#!/usr/bin/env node
/**
 * The pstack command: `pstack server | ping | route | arp | netstat | addr | neigh | stats | ss | capture | draw`.
 * Every failure the user can fix is one line on stderr and a non-zero exit code.
 */

import { runServer, SERVER_USAGE } from './server.js';
import { runPing } from './ping.js';
import { runDraw } from './draw.js';
import { runRoute, runArp, runNetstat, runStats, runMaddr } from './inspect.js';
import { runAddr, runNeigh } from './inspect-ipv6.js';
import { runSs } from './ss.js';
import { runCapture } from './capture.js';
import { UsageError, FatalError } from './errors.js';

const USAGE = `usage: pstack <command> [options]
commands:
  server    run the stack on a TAP device (answers ARP and ping; see pstack server --help)
  ping      ping from pstack's own stack on a TAP device, like iputils ping
  route     show or change a running server's routing table (like route -n)
  arp       show or change a running server's ARP cache (like arp -a)
  netstat   list a running server's UDP and TCP endpoints (like netstat -tuna)
  addr      a running server's IPv6 addresses (like ip -6 addr)
  neigh     a running server's IPv6 neighbor cache (like ip -6 neigh)
  stats     a running server's counters per protocol, drops by reason (like netstat -s)
  maddr     a running server's multicast group memberships (like ip maddr)
  capture   print a running server's packets live as tcpdump -n does (or -w FILE, pcapng)
  ss        a running server's TCP connections with cwnd, RTT, retransmits, windows (like ss -ti)
  draw      draw a capture file as SVG: a ladder diagram or a TCP time-sequence graph
run "pstack <command> --help" for a command's options`;

const COMMANDS = new Set(['server', 'ping', 'route', 'arp', 'netstat', 'stats', 'maddr', 'ss', 'capture', 'draw', 'addr', 'neigh']);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'server':
      return runServer(rest);
    case 'ping':
      return runPing(rest);
    case 'route':
      return runRoute(rest);
    case 'arp':
      return runArp(rest);
    case 'netstat':
      return runNetstat(rest);
    case 'addr':
      return runAddr(rest);
    case 'neigh':
      return runNeigh(rest);
    case 'stats':
      return runStats(rest);
    case 'maddr':
      return runMaddr(rest);
    case 'ss':
      return runSs(rest);
    case 'capture':
      return runCapture(rest);
    case 'draw':
      return runDraw(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE + '\n');
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`pstack: ${err.message}\n`);
      // Point at the help of the command that was mistyped, when there is one.
      const command = process.argv[2];
      const helpOf = command !== undefined && COMMANDS.has(command) ? `pstack ${command} --help` : 'pstack --help';
      if (!err.message.includes('usage:')) process.stderr.write(`run "${helpOf}" for usage\n`);
      process.exitCode = err.exitCode;
    } else if (err instanceof FatalError) {
      process.stderr.write(`pstack: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`pstack: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 70;
    }
  },
);

export { SERVER_USAGE };
