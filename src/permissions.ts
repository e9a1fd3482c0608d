/**
 * The permission flags `deno compile` bakes into the binary. Every test that runs the CLI runs
 * `main.ts` with exactly these, so the binary's behaviour is what the tests see.
 *
 * Reads and writes cannot be narrowed to paths: the config path and `data_root` are chosen at run
 * time. Environment access is narrowed to the variables the shipper reads.
 */
export const PERMISSION_FLAGS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-net",
  // SSL_CERT_FILE and SSL_CERT_DIR: where openssl finds the system trust store when the config
  // names no ca_bundle (src/config/trust_store.ts); read, never set.
  "--allow-env=CIS490_CONFIG,JOURNAL_STREAM,CREDENTIALS_DIRECTORY,HOME,NO_COLOR,SSL_CERT_FILE,SSL_CERT_DIR",
  // find(1) only: it moves episode directories whose names are not UTF-8, which no Deno file API
  // can name (src/queue/non_utf8.ts).
  "--allow-run=/usr/bin/find",
  // Not permissions, but baked in the same way: a 2 MiB young generation keeps a long backlog
  // in 124 MiB instead of 167 MiB (bench: 5,000 episodes), at no measured cost in speed; gc()
  // lets a pass bound the garbage that young generation promotes (src/gc.ts).
  // --efficiency-mode: V8's mode for work with no latency requirements, which uses fewer threads
  // and tiers up to its optimizing compiler later. Peaks 4–9 MB lower (one --once of 1 GiB: gzip
  // 80.8 → 76.6, zstd 83.3 → 78.5 MB; 2,000-episode backlog 90.5 → 81.5 MB, medians of 4–5) in the
  // same time (gzip 3.89 / 4.04 s, none 3.83 / 3.84 s, zstd 4.43 / 4.52 s, backlog 15.1 / 15.0 s).
  "--v8-flags=--max-semi-space-size=2,--expose-gc,--efficiency-mode",
  // No V8 code cache: `deno run` maps its cache database (2.2 MiB resident) and a compiled binary
  // keeps one of its own; without it each start compiles what it runs, ~60 ms, and peaks 2.6–3.4
  // MiB lower (bench: one --once of 512 MiB, gzip 80.1 → 77.5 MiB, none 76.2 → 72.8 MiB).
  "--no-code-cache",
];
