/**
 * One line per event on stderr. Under journald (`$JOURNAL_STREAM`) each line carries its
 * `<priority>` prefix and no timestamp (journald adds its own); `json` is for machines.
 * Registered secrets are replaced before anything is written, as a last line of defence.
 */

/** Severity of a log line. */
export type Level = "error" | "warn" | "info" | "debug";

/** Values a log line may carry besides its message. */
export type Fields = Record<string, string | number | boolean | null | undefined>;

/** The logger every module is handed. */
export interface Logger {
  error(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  debug(message: string, fields?: Fields): void;
  /** Never print `secret`; occurrences are replaced with `[redacted]`. */
  redact(secret: string): void;
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  /** @default {"text"} */
  format?: "text" | "json";
  /** Prefix lines with syslog priorities for journald. @default {false} */
  journald?: boolean;
  /** Print debug lines. @default {false} */
  debug?: boolean;
  /** Where lines go. @default {writes to stderr} */
  write?: (line: string) => void;
  /** Clock for timestamps. @default {Date.now} */
  now?: () => number;
}

const PRIORITY: Record<Level, number> = { error: 3, warn: 4, info: 6, debug: 7 };
const encoder = new TextEncoder();

function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

function formatValue(value: string | number | boolean | null): string {
  const s = String(value);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}

/** Creates a logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? "text";
  const write = options.write ?? writeStderr;
  const now = options.now ?? Date.now;
  const secrets: string[] = [];
  const scrub = (s: string) =>
    secrets.reduce((acc, secret) => acc.replaceAll(secret, "[redacted]"), s);

  const emit = (level: Level, message: string, fields: Fields = {}) => {
    if (level === "debug" && !options.debug) return;
    const entries = Object.entries(fields).filter(([, v]) => v !== undefined) as [
      string,
      string | number | boolean | null,
    ][];
    let line: string;
    if (format === "json") {
      line = JSON.stringify({
        ts: new Date(now()).toISOString(),
        level,
        msg: message,
        ...Object.fromEntries(entries),
      });
    } else {
      const tail = entries.map(([k, v]) => ` ${k}=${formatValue(v)}`).join("");
      line = options.journald
        ? `<${PRIORITY[level]}>${message}${tail}`
        : `${new Date(now()).toISOString()} ${level.toUpperCase()} ${message}${tail}`;
    }
    write(scrub(line));
  };

  return {
    error: (m, f) => emit("error", m, f),
    warn: (m, f) => emit("warn", m, f),
    info: (m, f) => emit("info", m, f),
    debug: (m, f) => emit("debug", m, f),
    redact: (secret) => {
      if (secret.length > 0) secrets.push(secret);
    },
  };
}

/**
 * The chain of `cause` messages of an error, joined: what the operator needs in one line. An error
 * without a message is named by its name and code, never printed as "".
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (typeof current === "object" && "message" in current) {
      const { message, code, name } = current as {
        message?: unknown;
        code?: unknown;
        name?: unknown;
      };
      const text = typeof message === "string" && message !== ""
        ? message
        : typeof name === "string" && name !== ""
        ? name
        : "Unknown error";
      parts.push(typeof code === "string" && !text.includes(code) ? `${text} (${code})` : text);
      current = (current as { cause?: unknown }).cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.join(": ");
}
