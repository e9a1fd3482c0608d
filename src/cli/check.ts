/**
 * `cis490-ship check [--offline] [--json]`: is this host ready to ship? A verdict per step; the
 * judgments live with their domains (src/config/judge_config.ts, src/upload/judge_probe.ts).
 */
import { ConfigError, configuredSecrets, loadConfig, tokenKeyOf } from "../config/config.ts";
import type { CheckStep } from "../config/check_step.ts";
import { judgeConfig } from "../config/judge_config.ts";
import { probeCollector } from "../upload/probe.ts";
import { judgeProbe } from "../upload/judge_probe.ts";
import { checkS3 } from "../upload/s3/check_s3.ts";
import { describeS3, s3SettingsOf } from "../upload/s3/settings.ts";
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
  skip: "skip",
};

/**
 * The exit code of a list of steps: the signal's (130, 143) when one stopped it; 78 for a config,
 * credentials or URL problem; 75 when only a transient one; else 0.
 */
export function checkExitCode(steps: readonly CheckStep[], stoppedBy?: string): number {
  if (steps.some((s) => s.class === "stopped")) {
    return stoppedBy === "SIGTERM" ? EXIT.terminated : EXIT.interrupted;
  }
  const failed = steps.filter((s) => s.verdict === "fail");
  if (failed.some((s) => s.class !== "transient")) return EXIT.config;
  return failed.length > 0 ? EXIT.tempFail : EXIT.ok;
}

/** One line per step. */
export function formatStep(step: CheckStep): string {
  return `${LABEL[step.verdict].padEnd(4)}  ${step.step}: ${step.message}`;
}

/** Options for {@linkcode runCheck}. */
export interface CheckOptions {
  configPath: string;
  /** Skip the round trip. */
  offline: boolean;
  /** One JSON object at the end instead of a line per step. @default {false} */
  json?: boolean;
}

/** Runs the checks, printing each step as it ends (or one JSON object); returns the exit code. */
export async function runCheck(options: CheckOptions, io: CommandIo): Promise<number> {
  const steps: CheckStep[] = [];
  const report = (step: CheckStep) => {
    steps.push(step);
    if (!options.json) io.stdout(formatStep(step));
  };
  const stoppedBy = () =>
    io.signal.aborted && io.signal.reason instanceof Error ? io.signal.reason.message : undefined;
  const finish = () => {
    const code = checkExitCode(steps, stoppedBy());
    if (options.json) io.stdout(JSON.stringify({ exit: code, steps }));
    return code;
  };
  let loaded;
  try {
    loaded = await loadConfig(options.configPath, { env: io.env, now: io.now });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const line of error.lines) {
      report({ step: "config", verdict: "fail", class: "config", message: line });
    }
    return finish();
  }
  const { config, warnings } = loaded;
  const token = config.receiver.bearerToken;
  for (const secret of configuredSecrets(config)) io.logger.redact(secret);
  const s3 = s3SettingsOf(config);
  const receiver = s3 ? describeS3(s3) : config.receiver.url;
  report({
    step: "config",
    verdict: warnings.length > 0 ? "warn" : "ok",
    message: `${options.configPath}: host ${config.hostId}, receiver ${receiver}`,
  });
  for (const warning of warnings) report({ step: "config", verdict: "warn", message: warning });
  const root = await Deno.stat(config.dataRoot).catch(() => null);
  report(
    root?.isDirectory
      ? { step: "data root", verdict: "ok", message: `${config.dataRoot} exists` }
      : {
        step: "data root",
        verdict: "fail",
        class: "config",
        message: `"${config.dataRoot}" is not an existing directory`,
      },
  );
  for (const step of judgeConfig(config, { now: io.now() })) {
    // A store signs requests with the access key: no client certificate is the usual case.
    if (s3 && step.step === "client certificate" && !config.tls.cert) continue;
    report(step);
  }
  if (options.offline) {
    report({
      step: s3 ? "object store" : "collector",
      verdict: "skip",
      message: "--offline: no round trip",
    });
    return finish();
  }
  if (s3) {
    // One signed GET of a key nothing writes: key, bucket and clock, judged as uploads are.
    for (const step of await checkS3(s3, config.hostId, { now: io.now, signal: io.signal })) {
      report(step);
    }
    return finish();
  }
  const probe = await probeCollector(config, { signal: io.signal });
  const by = stoppedBy();
  for (
    const step of judgeProbe(probe, {
      url: config.receiver.url,
      tokenKey: tokenKeyOf(config.receiver),
      hasToken: token !== undefined,
      secrets: token !== undefined ? [token] : [],
      ...(by !== undefined && { stoppedBy: by }),
    })
  ) report(step);
  return finish();
}

/** The `check` command. */
export const CHECK_COMMAND: CliCommand = {
  name: "check",
  summary: "validate config and certificates; a round trip to the collector that stores nothing",
  help: `Usage: cis490-ship check [--config PATH] [--offline] [--json]

Checks, one verdict per line (ok, WARN, FAIL, skip): the config loads, with every problem named
at once; no value is still the template's placeholder; the data root exists; the CAs the
collector is verified against (ca_bundle, else the system trust store: SSL_CERT_FILE,
SSL_CERT_DIR, /etc/ssl/certs/…); the client certificate's and every ca_bundle certificate's dates
(a warning within 14 days of expiry); host_id is a name (CN or DNS SAN) of the client
certificate, as the collector requires. Then a round trip that cannot store anything:
GET {receiver.url}/v1/health (TLS, client certificate and token, on the reference collector);
where there is no health route (nginx), the upload request of a probe episode with
"Expect: 100-continue", closed before any body byte. Answers are judged exactly as uploads judge
them; what cannot be verified (a token behind nginx) is named. With receiver.bucket, one signed
GET of <key_prefix>/<host_id>/.cis490-check instead, a key nothing writes: the access key, the
bucket and this host's clock against the store's.

Exits 0 when all is well (warnings allowed), 78 for a config, credentials, URL, bucket or clock
problem, 75 when the collector or store cannot be reached or is busy, 130/143 when stopped by SIGINT/SIGTERM.

Options:
  -c, --config PATH   shipper config (default: $CIS490_CONFIG, else /etc/cis490/lab-host.toml)
      --offline       skip the round trip (the installer uses this)
      --json          one JSON object: {"exit": N, "steps": [{step, verdict, class?, message}]}

Examples:
  cis490-ship check
  cis490-ship check --offline --config /etc/cis490/lab-host.toml
  cis490-ship check --json | jq -r '.steps[] | select(.verdict == "fail") | .message'
`,
  parse(args, env) {
    const parsed = parseCommandArgs("check", args, {
      ...CONFIG_OPTION,
      offline: { type: "boolean" },
      json: { type: "boolean" },
    });
    if (parsed === "help") return "help";
    const configPath = configPathOf(parsed.values, env);
    const offline = parsed.values.offline === true;
    const json = parsed.values.json === true;
    return {
      logFormat: "text",
      verbose: false,
      run: (io) => runCheck({ configPath, offline, json }, io),
    };
  },
};
