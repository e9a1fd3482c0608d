/**
 * argv → command → exit code. Nothing below this exits the process; main.ts does. Errors become
 * exit codes here, once: usage 2, config 78, another instance 75, not data_root's owner 77,
 * anything else 1; SIGINT 130 and SIGTERM 143 by each command's signal policy (args.ts
 * `SignalPolicy`).
 */
import { ConfigError } from "../config/config.ts";
import { createLogger, describeError } from "../log/log.ts";
import { LockHeldError } from "../queue/lock.ts";
import { NotOwnerError, sudoCommand } from "../fs/owner.ts";
import { versionLine } from "../version.ts";
import {
  ABORT_DEADLINE_MS,
  type CommandIo,
  EXIT,
  type Invocation,
  signalExitCode,
  type StopSignal,
  UsageError,
} from "./args.ts";
import { type CommandLine, parseCommandLine } from "./commands.ts";
import { createProgress, showsProgress } from "./progress.ts";

const encoder = new TextEncoder();
const STOP_SIGNALS: readonly StopSignal[] = ["SIGTERM", "SIGINT"];

/** Runs the command line `args`; returns the process exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const env = (name: string) => Deno.env.get(name);
  const stdout = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));
  let line: CommandLine;
  try {
    line = parseCommandLine(args, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    const name = error.command ? `cis490-ship ${error.command}` : "cis490-ship";
    Deno.stderr.writeSync(
      encoder.encode(`${name}: ${error.message}\nRun "${name} --help" for usage.\n`),
    );
    return EXIT.usage;
  }
  if (line.kind === "version") {
    stdout(versionLine());
    return EXIT.ok;
  }
  if (line.kind === "help") {
    Deno.stdout.writeSync(encoder.encode(line.text));
    return EXIT.ok;
  }
  return await invoke(line.invocation, env, stdout, args);
}

/** Runs one parsed command under its signal policy; maps what it throws to exit codes. */
async function invoke(
  invocation: Invocation,
  env: (name: string) => string | undefined,
  stdout: (line: string) => void,
  args: readonly string[],
): Promise<number> {
  const stderr = (text: string) => Deno.stderr.writeSync(encoder.encode(text));
  // A progress line on a terminal; log lines clear it first and it is drawn again after them.
  const progress = showsProgress(Deno.stderr.isTerminal(), env("JOURNAL_STREAM"))
    ? createProgress({ write: stderr })
    : null;
  const logger = createLogger({
    format: invocation.logFormat,
    journald: Boolean(env("JOURNAL_STREAM")),
    debug: invocation.verbose,
    write: (text) => progress ? progress.log(text) : stderr(text + "\n"),
  });
  const policy = invocation.signals ?? "abort";
  const controller = new AbortController();
  let stopped: StopSignal | null = null;
  let onStop = (_signal: StopSignal) => {};
  const stop = new Promise<StopSignal>((resolve) => (onStop = resolve));
  const listeners = STOP_SIGNALS.map((signal) => {
    const listener = () => {
      if (stopped !== null) return;
      stopped = signal;
      logger.info(
        policy === "graceful"
          ? `${signal} received: finishing current work, then stopping`
          : `${signal} received: stopping`,
      );
      controller.abort(new DOMException(`${signal} received`, "AbortError"));
      onStop(signal);
    };
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  const io: CommandIo = {
    logger,
    stdout: (text) => {
      progress?.clear();
      stdout(text);
    },
    signal: controller.signal,
    env,
    now: Date.now,
    onHangup: (listener) => {
      Deno.addSignalListener("SIGHUP", listener);
      return () => Deno.removeSignalListener("SIGHUP", listener);
    },
    ...(progress && { onProgress: progress.update }),
  };
  try {
    const work = invocation.run(io);
    if (policy === "graceful") return await work;
    const first = await Promise.race([
      work.then((code) => ({ code }), (error: unknown) => ({ error })),
      stop.then((signal) => ({ signal })),
    ]);
    if (stopped === null && "code" in first) return first.code;
    if (stopped === null && "error" in first) throw first.error;
    // Stopped: the command has until the deadline to unwind (it checks its signal between
    // steps), then the process exits anyway; every data move is crash-safe by design.
    await settled(work, ABORT_DEADLINE_MS);
    return signalExitCode(stopped ?? "SIGINT");
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const line of error.lines) logger.error(line);
      return EXIT.config;
    }
    if (error instanceof LockHeldError) {
      logger.error(error.message);
      return EXIT.tempFail;
    }
    if (error instanceof NotOwnerError) {
      // sudo drops the environment: a config named by $CIS490_CONFIG is named on the line.
      const config = env("CIS490_CONFIG");
      const named = args.some((a) => /^(-c|--config)(=|$)/.test(a) || /^-c./.test(a));
      const rerun = config !== undefined && !named ? [...args, "--config", config] : args;
      logger.error(`${error.message}; run it as the owner: ${sudoCommand(error.owner, rerun)}`);
      return EXIT.noPerm;
    }
    logger.error(`unexpected failure: ${describeError(error)}`);
    return EXIT.failure;
  } finally {
    progress?.end();
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  }
}

/** Waits until `work` settles or `ms` pass, whichever comes first. */
async function settled(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    work.catch(() => {}),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}
