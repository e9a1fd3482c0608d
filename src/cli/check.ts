/** `cis490-ship check [--offline]`: is this host ready to ship? A verdict per step. */
import { ConfigError, loadConfig } from "../config/config.ts";
import { type CheckStep, checkTlsMaterial, judgeProbe, probeCollector } from "../ops/check.ts";
import {
  type CliCommand,
  type CommandIo,
  CONFIG_OPTION,
  configPathOf,
  EXIT,
  parseCommandArgs,
} from "./args.ts";

const LABEL: Record<CheckStep["verdict"], string> = {
  ok: "ok",
  warn: "WARN",
  fail: "FAIL",
  refused: "FAIL",
  unreachable: "FAIL",
  skip: "skip",
};

/** The exit code of a list of steps: 78 for config or credentials, 75 unreachable, else 0. */
export function checkExitCode(steps: readonly CheckStep[]): number {
  if (steps.some((s) => s.verdict === "fail" || s.verdict === "refused")) return EXIT.config;
  if (steps.some((s) => s.verdict === "unreachable")) return EXIT.tempFail;
  return EXIT.ok;
}

/** One line per step. */
export function formatStep(step: CheckStep): string {
  return `${LABEL[step.verdict].padEnd(4)}  ${step.step}: ${step.message}`;
}

/** Runs the checks, printing each step as it ends; returns the exit code. */
export async function runCheck(
  options: { configPath: string; offline: boolean },
  io: CommandIo,
): Promise<number> {
  const steps: CheckStep[] = [];
  const report = (step: CheckStep) => {
    steps.push(step);
    io.stdout(formatStep(step));
  };
  let loaded;
  try {
    loaded = await loadConfig(options.configPath, { env: io.env, now: io.now });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    report({ step: "config", verdict: "fail", message: error.message });
    return checkExitCode(steps);
  }
  const { config, warnings } = loaded;
  if (config.receiver.bearerToken) io.logger.redact(config.receiver.bearerToken);
  report({
    step: "config",
    verdict: warnings.length > 0 ? "warn" : "ok",
    message: `${options.configPath}: host ${config.hostId}, receiver ${config.receiver.url}`,
  });
  for (const warning of warnings) report({ step: "config", verdict: "warn", message: warning });
  const root = await Deno.stat(config.dataRoot).catch(() => null);
  report(
    root?.isDirectory
      ? { step: "data root", verdict: "ok", message: `${config.dataRoot} exists` }
      : {
        step: "data root",
        verdict: "fail",
        message: `"${config.dataRoot}" is not an existing directory`,
      },
  );
  for (const step of checkTlsMaterial(config, io.now())) report(step);
  if (options.offline) {
    report({ step: "collector", verdict: "skip", message: "--offline: no round trip" });
  } else {
    report(judgeProbe(await probeCollector(config), config.receiver.url));
  }
  return checkExitCode(steps);
}

/** The `check` command. */
export const CHECK_COMMAND: CliCommand = {
  name: "check",
  summary: "validate config and certificates; TLS + auth round trip to the collector",
  help: `Usage: cis490-ship check [--config PATH] [--offline]

Checks, one verdict per line: the config loads; the data root exists; the client certificate and
every CA certificate are within their dates (a warning within 14 days of expiry); the client key
matches the certificate; then one real TLS + auth round trip: GET {receiver.url}/v1/health with
the client certificate and bearer token (nothing is uploaded). A receiver without a health route
(nginx with WebDAV PUT) answers 404 or 405 after accepting the TLS handshake and the client
certificate: that passes. Exits 0 when all is well (warnings allowed), 78 for a config or
credentials problem, 75 when the collector cannot be reached.

Options:
  -c, --config PATH   shipper config (default: $CIS490_CONFIG, else /etc/cis490/lab-host.toml)
      --offline       skip the round trip (the installer uses this)

Examples:
  cis490-ship check
  cis490-ship check --offline --config /etc/cis490/lab-host.toml
`,
  parse(args, env) {
    const parsed = parseCommandArgs("check", args, {
      ...CONFIG_OPTION,
      offline: { type: "boolean" },
    });
    if (parsed === "help") return "help";
    const configPath = configPathOf(parsed.values, env);
    const offline = parsed.values.offline === true;
    return {
      logFormat: "text",
      verbose: false,
      run: (io) => runCheck({ configPath, offline }, io),
    };
  },
};
