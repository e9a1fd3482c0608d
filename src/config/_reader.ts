/**
 * Typed access to a parsed TOML document, with the one error format every config problem uses
 * (`<file>: <key>: <what is wrong>`, one line each, bounded) and warnings for keys nobody read.
 */
import { parse, TomlError } from "smol-toml";
import type { NumberRange } from "./keys.ts";
import { readBoundedText, ReadProblem } from "./read_bounded.ts";

/** One problem of a config file. */
export interface ConfigProblem {
  file: string;
  /** Dotted key, or "" for the file as a whole. */
  key: string;
  detail: string;
}

/** The longest a quoted value, a file name or a detail grows in an error line. */
const MAX_QUOTED = 80;
const MAX_FILE = 300;
const MAX_DETAIL = 600;

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max) + "…" : text;
}

/**
 * A value quoted for an error line: JSON-escaped (a newline or a NUL cannot break the line) and
 * cut at 80 characters, so a 10 MB `host_id` prints a short line.
 */
export function quote(value: string): string {
  return JSON.stringify(clip(value, MAX_QUOTED));
}

/** `<file>: <key>: <detail>` for one problem, each part bounded. */
export function formatProblem(problem: ConfigProblem): string {
  const file = clip(problem.file, MAX_FILE);
  const detail = clip(problem.detail.replace(/[\r\n]+/g, " "), MAX_DETAIL);
  return problem.key
    ? `${file}: ${clip(problem.key, MAX_QUOTED)}: ${detail}`
    : `${file}: ${detail}`;
}

/**
 * Configuration problems: the process reports them, one line each, and exits 78 (EX_CONFIG).
 * `file`, `key` and `detail` are the first problem's.
 */
export class ConfigError extends Error {
  /** Every problem, in the order found. */
  readonly problems: readonly ConfigProblem[];
  readonly file: string;
  readonly key: string;
  readonly detail: string;
  constructor(file: string, key: string, detail: string, more: readonly ConfigProblem[] = []) {
    const problems = [{ file, key, detail }, ...more];
    super(problems.map(formatProblem).join("\n"));
    this.name = "ConfigError";
    this.problems = problems;
    this.file = file;
    this.key = key;
    this.detail = detail;
  }

  /** One line per problem. */
  get lines(): string[] {
    return this.problems.map(formatProblem);
  }

  /** A ConfigError holding every problem of `problems` (at least one). */
  static of(problems: readonly ConfigProblem[]): ConfigError {
    const [first, ...more] = problems;
    if (!first) throw new RangeError("ConfigError.of() needs at least one problem");
    return new ConfigError(first.file, first.key, first.detail, more);
  }
}

/** A config file of this size is no config file: refused before it is read. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Reads and parses a TOML file, bounded. @throws {ConfigError} when unreadable or malformed. */
export async function readTomlFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readBoundedText(path, { limit: MAX_CONFIG_BYTES });
  } catch (error) {
    if (error instanceof ReadProblem) throw new ConfigError(path, "", error.reason);
    throw error;
  }
  try {
    return parse(text) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof TomlError) {
      const first = error.message.split("\n")[0] ?? "invalid TOML";
      throw new ConfigError(path, "", `line ${error.line}, column ${error.column}: ${first}`);
    }
    throw new ConfigError(path, "", `invalid TOML: ${String(error)}`);
  }
}

/** The kind of a TOML value in words: "a string", "a table". */
export function typeName(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  switch (typeof value) {
    case "string":
      return "a string";
    case "number":
    case "bigint":
      return "a number";
    case "boolean":
      return "a boolean";
    default:
      return "a table";
  }
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Date);
}

/** Edit distance, for "did you mean" suggestions. */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (cur[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** The closest known key to `key`, or null when none is close. */
export function suggestKey(key: string, known: Iterable<string>): string | null {
  const leaf = key.split(".").at(-1) ?? key;
  let best: string | null = null;
  let bestScore = Infinity;
  for (const candidate of known) {
    const candidateLeaf = candidate.split(".").at(-1) ?? candidate;
    // A right name in the wrong table is the most common slip: prefer it.
    const score = candidateLeaf === leaf ? 0 : levenshtein(key, candidate);
    if (score < bestScore) {
      bestScore = score;
      best = candidate;
    }
  }
  const limit = Math.max(2, Math.floor(key.length / 4));
  return bestScore <= limit ? best : null;
}

/** A number as TOML writes it: `nan` and `inf` rather than JavaScript's `NaN` and `Infinity`. */
function tomlNumber(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  return String(value);
}

/** The allowed values of `range`, in words: "a number greater than 0 and at most 86400". */
export function describeRange(range: NumberRange): string {
  if (range.integer) {
    const span = `an integer from ${range.min} to ${range.max}`;
    return range.zeroAllowed ? `0 or ${span}` : span;
  }
  const low = range.minExclusive ? `greater than ${range.min}` : `at least ${range.min}`;
  return `${range.zeroAllowed ? "0 or " : ""}a number ${low} and at most ${range.max}`;
}

/** Why `value` is not in `range`, or null when it is. */
export function numberProblem(value: unknown, range: NumberRange): string | null {
  if (typeof value === "bigint") {
    return `must be ${describeRange(range)}, got ${value}`;
  }
  if (typeof value !== "number") {
    const shown = typeof value === "string"
      ? ` ${quote(value)}`
      : typeof value === "boolean"
      ? ` ${value}`
      : "";
    return `must be ${describeRange(range)}, got ${typeName(value)}${shown}`;
  }
  const fits = Number.isFinite(value) &&
    (!range.integer || Number.isSafeInteger(value)) &&
    ((range.zeroAllowed && value === 0) ||
      ((range.minExclusive ? value > range.min : value >= range.min) && value <= range.max));
  return fits ? null : `must be ${describeRange(range)}, got ${tomlNumber(value)}`;
}

/** Reads typed values out of a parsed document and remembers which keys were read. */
export class TableReader {
  readonly #known = new Set<string>();
  constructor(readonly file: string, readonly data: Record<string, unknown>) {}

  /** Raises a {@linkcode ConfigError} for `key`. */
  fail(key: string, detail: string): never {
    throw new ConfigError(this.file, key, detail);
  }

  /** The raw value at a dotted key, or undefined. Marks the key as known. */
  get(key: string): unknown {
    this.#known.add(key);
    const parts = key.split(".");
    let node: unknown = this.data;
    for (let i = 0; i < parts.length; i++) {
      if (node === undefined) return undefined;
      if (!isTable(node)) {
        this.fail(parts.slice(0, i).join("."), `must be a table, got ${typeName(node)}`);
      }
      node = node[parts[i] as string];
    }
    return node;
  }

  /** A string; empty strings count as absent when `emptyIsAbsent`. */
  string(key: string, options: { emptyIsAbsent?: boolean } = {}): string | undefined {
    const value = this.get(key);
    if (value === undefined) return undefined;
    if (typeof value !== "string") this.fail(key, `must be a string, got ${typeName(value)}`);
    if (value === "" && options.emptyIsAbsent) return undefined;
    return value;
  }

  /** A required, non-empty string. */
  requiredString(key: string): string {
    const value = this.string(key);
    if (value === undefined) this.fail(key, "required");
    if (value === "") this.fail(key, "must not be empty");
    return value;
  }

  /** An integer of at least `min`. */
  integer(key: string, fallback: number, min: number): number {
    const value = this.get(key);
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isSafeInteger(value)) {
      this.fail(key, `must be an integer, got ${typeName(value)} ${quote(String(value))}`);
    }
    if (value < min) this.fail(key, `must be at least ${min}, got ${value}`);
    return value;
  }

  /** A boolean; strings such as "false" are errors, not coerced. */
  boolean(key: string, fallback: boolean): boolean {
    const value = this.get(key);
    if (value === undefined) return fallback;
    if (typeof value !== "boolean") {
      this.fail(key, `must be true or false, got ${typeName(value)} ${quote(String(value))}`);
    }
    return value;
  }

  /** One of a fixed set of strings. */
  oneOf<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    const value = this.string(key);
    if (value === undefined) return fallback;
    if (!(choices as readonly string[]).includes(value)) {
      this.fail(
        key,
        `must be one of ${choices.map((c) => `"${c}"`).join(", ")}, got ${quote(value)}`,
      );
    }
    return value as T;
  }

  /** A finite number within `range`. */
  number(key: string, range: NumberRange, fallback: number): number {
    const value = this.get(key);
    if (value === undefined) return fallback;
    const problem = numberProblem(value, range);
    if (problem) this.fail(key, problem);
    return value as number;
  }

  /** An array of `count.min`–`count.max` numbers, each within `range`. */
  numbers(
    key: string,
    range: NumberRange,
    count: { min: number; max: number },
    fallback: readonly number[],
  ): number[] {
    const value = this.get(key);
    if (value === undefined) return [...fallback];
    if (!Array.isArray(value)) {
      this.fail(key, `must be an array of numbers, got ${typeName(value)}`);
    }
    if (value.length < count.min || value.length > count.max) {
      this.fail(
        key,
        `must hold ${count.min}–${count.max} numbers, got ${value.length}`,
      );
    }
    value.forEach((item, i) => {
      const problem = numberProblem(item, range);
      if (problem) this.fail(key, `item ${i} ${problem}`);
    });
    return value as number[];
  }

  /** An array of strings. */
  strings(key: string): string[] | undefined {
    const value = this.get(key);
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) {
      this.fail(key, `must be an array of strings, got ${typeName(value)}`);
    }
    value.forEach((item, i) => {
      if (typeof item !== "string") {
        this.fail(key, `item ${i} must be a string, got ${typeName(item)}`);
      }
    });
    return value as string[];
  }

  /** One warning per key present in the file that is neither `declared` nor read. */
  unknownKeyWarnings(declared: Iterable<string> = []): string[] {
    for (const key of declared) this.#known.add(key);
    const warnings: string[] = [];
    // Every table a known key lives in, for suggestions when a whole section is misspelled.
    const sections = [...this.#known].flatMap((k) =>
      k.split(".").slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join("."))
    );
    const walk = (node: Record<string, unknown>, prefix: string) => {
      for (const [name, value] of Object.entries(node)) {
        const key = prefix ? `${prefix}.${name}` : name;
        if (this.#known.has(key)) continue;
        const isSection = isTable(value) &&
          [...this.#known].some((k) => k.startsWith(key + "."));
        if (isSection) {
          walk(value, key);
          continue;
        }
        // No key is near a name this long, and comparing one would cost its length squared.
        const suggestion = key.length > 200
          ? null
          : suggestKey(key, isTable(value) ? sections : this.#known);
        warnings.push(formatProblem({
          file: this.file,
          key,
          detail: "unknown key, ignored" + (suggestion ? ` (did you mean ${suggestion}?)` : ""),
        }));
      }
    };
    walk(this.data, "");
    return warnings;
  }
}
