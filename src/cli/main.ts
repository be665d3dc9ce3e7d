#!/usr/bin/env node
/**
 * The pstack command: `pstack server | ping | route | arp | netstat | stats`.
 * Every failure the user can fix is one line on stderr and a non-zero exit code.
 */

import { runServer, SERVER_USAGE } from './server.js';
import { UsageError, FatalError } from './errors.js';

const USAGE = `usage: pstack <command> [options]
commands:
  server    run the stack on a TAP device (answers ARP and ping; see pstack server --help)
run "pstack <command> --help" for a command's options`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'server':
      return runServer(rest);
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
      if (!err.message.includes('usage:')) process.stderr.write(`run "pstack --help" for usage\n`);
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
