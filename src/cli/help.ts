/** Help texts. */
import { DEFAULT_CONFIG_PATH } from "../config/config.ts";
import { VERSION } from "../version.ts";

/** Help for each topic. */
export const HELP = {
  main: `cis490-ship ${VERSION}: ships finished experiment episodes to the collector over mutual TLS

Usage:
  cis490-ship [--config PATH] [--once]     ship episodes (a service; --once: one pass, then exit)
  cis490-ship collector --config PATH      run the reference collector
  cis490-ship --version | --help | <command> --help

Options:
  -c, --config PATH      shipper config (default: $CIS490_CONFIG, else ${DEFAULT_CONFIG_PATH})
      --once             one pass: ship what is ready, print a summary, exit
      --log-format FMT   text (default) or json; one line per event on stderr
  -v, --verbose          also log debug lines

Exit codes:
  0   success
  1   unexpected failure
  2   usage error
  75  --once left episodes queued (transient failures, backoff), or another
      cis490-ship holds the data root
  78  configuration error, or the collector refused our credentials or URL
`,
  run: `Usage: cis490-ship [run] [--config PATH] [--once] [--log-format text|json] [-v]

Finds complete episodes (done.marker) under <data_root>/episodes/, quarantines those that may not
be sent (bad id, missing or unstamped meta.json, over shipper.max_episode_bytes), packs the rest
into outbox/ and PUTs them to receiver.url. Accepted episodes move to shipped/, refused ones to
quarantine/<id>/ with quarantine_reason.json; transient failures are retried with backoff.

Without --once it runs until SIGTERM, one pass every shipper.scan_interval_s.
With --once it makes one pass, prints one line per outcome on stdout and exits 0, 75 or 78.
`,
  collector: `Usage: cis490-ship collector --config PATH [--log-format text|json]

Runs the reference collector: HTTPS with required client certificates, optional bearer token,
commit gate, duplicate detection, digest and length verification, atomic storage under
<store_dir>/<host_id>/<episode_id>.tar.gz with a JSON sidecar. Prints "listening on URL" on
stdout once ready; stops on SIGTERM or SIGINT. The config keys are in the README.
`,
} as const;
