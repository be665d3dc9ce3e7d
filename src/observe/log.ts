/**
 * A small logger in the old pstack's layout, which its users already read fluently:
 *
 *   12:50:40.548 [D] incoming tcp segment
 *                    src port: 56988
 *
 * The detail lines are indented by the width of the "HH:MM:SS.mmm [L] " prefix (17 columns)
 * so that they line up under the title. Each entry is written with a single `write` call so
 * entries from different parts of the process never interleave line by line.
 *
 * `enabled()` is one comparison: the stack guards every packet dissection with
 * `if (log.enabled('debug'))`, so a logger at info level costs nothing per packet.
 */

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';
/** A logger's threshold: a level, or 'silent' for nothing at all. */
export type LogThreshold = LogLevel | 'silent';

/** Anything with a `write(string)`: process.stderr, a file stream, a test's fake. */
export interface LogStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface LoggerOptions {
  level?: LogThreshold;
  stream?: LogStream;
  /** Wall-clock time in epoch milliseconds, shown as local HH:MM:SS.mmm. Default Date.now. */
  clock?: () => number;
  /** Colour the level tag with ANSI escapes. Default: when the stream is a TTY and NO_COLOR is unset. */
  color?: boolean;
}

export interface Logger {
  /** The current threshold; assigning it takes effect for the next entry. */
  level: LogThreshold;
  enabled(level: LogLevel): boolean;
  log(level: LogLevel, title: string, ...detailLines: string[]): void;
  error(title: string, ...detailLines: string[]): void;
  warn(title: string, ...detailLines: string[]): void;
  info(title: string, ...detailLines: string[]): void;
  debug(title: string, ...detailLines: string[]): void;
  trace(title: string, ...detailLines: string[]): void;
}

/** Lower rank = more severe; an entry is written when its rank <= the threshold's rank. */
const LEVEL_RANK: Record<LogThreshold, number> = { silent: -1, error: 0, warn: 1, info: 2, debug: 3, trace: 4 };
const LEVEL_LETTER: Record<LogLevel, string> = { error: 'E', warn: 'W', info: 'I', debug: 'D', trace: 'T' };
const LEVEL_COLOR: Record<LogLevel, string> = {
  error: '\x1b[31m', // red
  warn: '\x1b[33m', // yellow
  info: '\x1b[32m', // green
  debug: '\x1b[36m', // cyan
  trace: '\x1b[90m', // grey
};
const COLOR_RESET = '\x1b[0m';

/** Width of "HH:MM:SS.mmm [L] ": where titles start and detail lines are indented to. */
export const LOG_PREFIX_WIDTH = 17;
const DETAIL_INDENT = ' '.repeat(LOG_PREFIX_WIDTH);

/**
 * Read a level from a CLI flag or environment variable. Case-insensitive; accepts the
 * common spellings "warning" and "off"/"none". Returns null for anything else so the
 * caller can report the mistake instead of silently logging at some default.
 */
export function parseLogLevel(text: string): LogThreshold | null {
  switch (text.trim().toLowerCase()) {
    case 'error': return 'error';
    case 'warn': case 'warning': return 'warn';
    case 'info': return 'info';
    case 'debug': return 'debug';
    case 'trace': return 'trace';
    case 'silent': case 'off': case 'none': return 'silent';
    default: return null;
  }
}

function pad2(n: number): string { return n < 10 ? '0' + n : String(n); }
function pad3(n: number): string { return n < 10 ? '00' + n : n < 100 ? '0' + n : String(n); }

/** Local time of day as HH:MM:SS.mmm, the old pstack's timestamp. */
export function formatLogTime(epochMs: number): string {
  const d = new Date(epochMs);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${pad3(d.getMilliseconds())}`;
}

/**
 * The text of one entry, newline-terminated. Titles and detail lines may themselves contain
 * newlines (banners do); every physical line after the first is indented to the title column.
 */
export function formatLogEntry(time: string, level: LogLevel, title: string, detailLines: readonly string[], color = false): string {
  const tag = color ? `${LEVEL_COLOR[level]}[${LEVEL_LETTER[level]}]${COLOR_RESET}` : `[${LEVEL_LETTER[level]}]`;
  let out = `${time} ${tag} ${indentContinuations(title)}\n`;
  for (const line of detailLines) out += DETAIL_INDENT + indentContinuations(line) + '\n';
  return out;
}

function indentContinuations(text: string): string {
  return text.includes('\n') ? text.split('\n').join('\n' + DETAIL_INDENT) : text;
}

class StreamLogger implements Logger {
  private rank: number;
  private threshold: LogThreshold;

  constructor(
    level: LogThreshold,
    private readonly stream: LogStream,
    private readonly clock: () => number,
    private readonly color: boolean,
  ) {
    this.threshold = level;
    this.rank = LEVEL_RANK[level];
  }

  get level(): LogThreshold { return this.threshold; }
  set level(level: LogThreshold) {
    this.threshold = level;
    this.rank = LEVEL_RANK[level];
  }

  enabled(level: LogLevel): boolean {
    return LEVEL_RANK[level] <= this.rank;
  }

  log(level: LogLevel, title: string, ...detailLines: string[]): void {
    if (LEVEL_RANK[level] > this.rank) return;
    this.stream.write(formatLogEntry(formatLogTime(this.clock()), level, title, detailLines, this.color));
  }

  error(title: string, ...detailLines: string[]): void { this.log('error', title, ...detailLines); }
  warn(title: string, ...detailLines: string[]): void { this.log('warn', title, ...detailLines); }
  info(title: string, ...detailLines: string[]): void { this.log('info', title, ...detailLines); }
  debug(title: string, ...detailLines: string[]): void { this.log('debug', title, ...detailLines); }
  trace(title: string, ...detailLines: string[]): void { this.log('trace', title, ...detailLines); }
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const color = options.color ?? (stream.isTTY === true && !process.env['NO_COLOR']);
  return new StreamLogger(options.level ?? 'info', stream, options.clock ?? Date.now, color);
}

function noop(): void {}

/**
 * Logs nothing and reports every level disabled, so guarded dissections are skipped too.
 * Shared, so assigning its level is ignored rather than switching on output for everyone.
 */
export const silentLogger: Logger = Object.freeze({
  get level(): LogThreshold { return 'silent'; },
  set level(_ignored: LogThreshold) { /* shared instance: stays silent */ },
  enabled: () => false,
  log: noop,
  error: noop,
  warn: noop,
  info: noop,
  debug: noop,
  trace: noop,
});

export interface LogRecord {
  level: LogLevel;
  title: string;
  lines: string[];
}

/** A logger that keeps entries in memory, for tests that assert what the stack reported. */
export interface RecordingLogger extends Logger {
  readonly records: LogRecord[];
}

export function createRecordingLogger(level: LogThreshold = 'trace'): RecordingLogger {
  let rank = LEVEL_RANK[level];
  let threshold = level;
  const records: LogRecord[] = [];
  const log = (lvl: LogLevel, title: string, ...lines: string[]): void => {
    if (LEVEL_RANK[lvl] <= rank) records.push({ level: lvl, title, lines });
  };
  return {
    records,
    get level(): LogThreshold { return threshold; },
    set level(l: LogThreshold) { threshold = l; rank = LEVEL_RANK[l]; },
    enabled: (lvl: LogLevel) => LEVEL_RANK[lvl] <= rank,
    log,
    error: (t, ...l) => log('error', t, ...l),
    warn: (t, ...l) => log('warn', t, ...l),
    info: (t, ...l) => log('info', t, ...l),
    debug: (t, ...l) => log('debug', t, ...l),
    trace: (t, ...l) => log('trace', t, ...l),
  };
}

/** Write dissection or event blocks (anything with a title and lines) as one entry each. */
export function logBlocks(logger: Logger, level: LogLevel, blocks: ReadonlyArray<{ title: string; lines: readonly string[] }>): void {
  if (!logger.enabled(level)) return;
  for (const block of blocks) logger.log(level, block.title, ...block.lines);
}
