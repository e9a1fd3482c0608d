import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { join } from "node:path";
import { ConfigError, DEFAULTS, loadConfig } from "../../src/config/config.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { tempDir } from "../../devkit/fixtures.ts";

const noEnv = () => undefined;

/**
 * An environment whose system trust store is the test CA (`SSL_CERT_FILE`): an https URL without
 * ca_bundle loads it, and the tests do not depend on the machine's own store.
 */
async function testEnv(env: (n: string) => string | undefined = noEnv) {
  const ca = (await sharedPki()).ca;
  return (n: string) => n === "SSL_CERT_FILE" ? ca : env(n);
}

async function load(dir: string, text: string, env: (n: string) => string | undefined = noEnv) {
  const file = join(dir, "lab-host.toml");
  await Deno.writeTextFile(file, text);
  await Deno.chmod(file, 0o600);
  return await loadConfig(file, { env: await testEnv(env), cwd: dir });
}

async function loadError(dir: string, text: string, env = noEnv): Promise<string> {
  const error = await assertRejects(() => load(dir, text, env), ConfigError);
  return (error as ConfigError).message;
}

const MINIMAL = `host_id = "lab-01"\n[receiver]\nurl = "https://collector.wg"\n`;

Deno.test("loadConfig() applies every seed default", async () => {
  await using dir = await tempDir();
  const { config, warnings } = await load(dir.path, MINIMAL);
  assertEquals(warnings, []);
  assertEquals(config.hostId, "lab-01");
  assertEquals(config.dataRoot, "/var/lib/cis490/data");
  assertEquals(config.receiver, { url: "https://collector.wg", verifyTls: true });
  assertEquals(config.scanIntervalS, 5.0);
  assertEquals(config.requestTimeoutS, 60.0);
  assertEquals(config.backoffSeconds, [1, 2, 4, 8, 16, 32, 60, 120, 300]);
  assertEquals(config.keepLocalForDays, 7);
  assertEquals(config.maxEpisodeBytes, DEFAULTS.maxEpisodeBytes);
  assertEquals(config.compression, "gzip");
  const pki = await sharedPki();
  assertEquals(config.tls, {
    ca: (await Deno.readTextFile(pki.ca)).trim() + "\n",
    caSource: `system trust store SSL_CERT_FILE "${pki.ca}" (1 certificates)`,
  });
});

Deno.test("loadConfig() loads a seed config unchanged", async () => {
  await using dir = await tempDir();
  const pki = await sharedPki();
  const client = pki.client("lab-01");
  const seed = `# /etc/cis490/lab-host.toml as the Python shipper read it
host_id = "lab-01"

[paths]
data_root = "/srv/cis490/data"

[receiver]
url = "https://collector.wg/"
ca_bundle = "${pki.ca}"
client_cert = "${client.cert}"
client_key = "${client.key}"
bearer_token = "s3cret-token"
verify_tls = true

[shipper]
scan_interval_s = 2
request_timeout_s = 30.5
backoff_seconds = [1.0, 5.0, 30.0]

[retention]
keep_local_for_days = 14
`;
  const { config, warnings } = await load(dir.path, seed);
  assertEquals(warnings, []);
  assertEquals(config.dataRoot, "/srv/cis490/data");
  assertEquals(config.receiver.url, "https://collector.wg");
  assertEquals(config.receiver.caBundle, pki.ca);
  assertEquals(config.receiver.clientCert, client.cert);
  assertEquals(config.receiver.bearerToken, "s3cret-token");
  assertEquals(config.scanIntervalS, 2);
  assertEquals(config.requestTimeoutS, 30.5);
  assertEquals(config.backoffSeconds, [1, 5, 30]);
  assertEquals(config.keepLocalForDays, 14);
  assertMatch(config.tls.ca ?? "", /BEGIN CERTIFICATE/);
  assertMatch(config.tls.key ?? "", /PRIVATE KEY/);
});

Deno.test("loadConfig() makes paths absolute and expands ~ like the Python shipper", async () => {
  await using dir = await tempDir();
  const pki = await sharedPki();
  const home = join(dir.path, "home");
  await Deno.mkdir(home);
  await Deno.copyFile(pki.ca, join(home, "ca.pem"));
  const { config } = await load(
    dir.path,
    `host_id = "h"\n[paths]\ndata_root = "rel/data"\n[receiver]\nurl = "https://c"\nca_bundle = "~/ca.pem"\nclient_cert = ""\n`,
    (n) => (n === "HOME" ? home : undefined),
  );
  assertEquals(config.dataRoot, join(dir.path, "rel/data"));
  assertEquals(config.receiver.caBundle, join(home, "ca.pem"));
  assertEquals(config.receiver.clientCert, undefined);
});

const ERRORS: [string, string, RegExp][] = [
  ["missing host_id", `[receiver]\nurl = "https://c"\n`, /: host_id: required$/],
  [
    "empty host_id",
    `host_id = ""\n[receiver]\nurl = "https://c"\n`,
    /: host_id: must not be empty$/,
  ],
  [
    "host_id with a slash",
    `host_id = "a/b"\n[receiver]\nurl = "https://c"\n`,
    /: host_id: "a\/b" must match/,
  ],
  [
    "non-string host_id",
    `host_id = 5\n[receiver]\nurl = "https://c"\n`,
    /: host_id: must be a string, got a number$/,
  ],
  ["missing receiver.url", `host_id = "h"\n`, /lab-host\.toml: receiver\.url: required$/],
  [
    "receiver not a table",
    `host_id = "h"\nreceiver = "https://c"\n`,
    /: receiver: must be a table, got a string$/,
  ],
  [
    "url not a URL",
    `host_id = "h"\n[receiver]\nurl = "collector"\n`,
    /: receiver\.url: "collector" is not a URL$/,
  ],
  [
    "ftp url",
    `host_id = "h"\n[receiver]\nurl = "ftp://c"\n`,
    /: receiver\.url: must start with https:\/\//,
  ],
  [
    "url with query",
    `host_id = "h"\n[receiver]\nurl = "https://c/?a=1"\n`,
    /: receiver\.url: must not carry a query/,
  ],
  [
    "verify_tls as string",
    `${MINIMAL}verify_tls = "false"\n`,
    /: receiver\.verify_tls: must be true or false, got a string "false"$/,
  ],
  [
    "verify_tls as number",
    `${MINIMAL}verify_tls = 0\n`,
    /: receiver\.verify_tls: must be true or false/,
  ],
  [
    "client_key without cert",
    `${MINIMAL}client_key = "/x.key"\n`,
    /: receiver\.client_cert: required when client_key is set$/,
  ],
  [
    "both token kinds",
    `${MINIMAL}bearer_token = "a"\nbearer_token_file = "/t"\n`,
    /: receiver\.bearer_token_file: set either bearer_token or bearer_token_file/,
  ],
  [
    "token file missing",
    `${MINIMAL}bearer_token_file = "/nonexistent/token"\n`,
    /: receiver\.bearer_token_file: cannot read "\/nonexistent\/token": file not found$/,
  ],
  [
    "credentials dir unset",
    `${MINIMAL}bearer_token_file = "\${CREDENTIALS_DIRECTORY}/tok"\n`,
    /: receiver\.bearer_token_file: \$CREDENTIALS_DIRECTORY is not set/,
  ],
  [
    "scan_interval_s zero",
    `${MINIMAL}[shipper]\nscan_interval_s = 0\n`,
    /: shipper\.scan_interval_s: must be a number at least 0\.05 and at most 86400, got 0$/,
  ],
  [
    "scan_interval_s string",
    `${MINIMAL}[shipper]\nscan_interval_s = "5"\n`,
    /: shipper\.scan_interval_s: must be a number at least 0\.05 and at most 86400, got a string "5"$/,
  ],
  [
    "request_timeout_s negative",
    `${MINIMAL}[shipper]\nrequest_timeout_s = -1.0\n`,
    /: shipper\.request_timeout_s: must be a number greater than 0 and at most 86400, got -1$/,
  ],
  [
    "backoff empty",
    `${MINIMAL}[shipper]\nbackoff_seconds = []\n`,
    /: shipper\.backoff_seconds: must hold 1–64 numbers, got 0$/,
  ],
  [
    "backoff with a string",
    `${MINIMAL}[shipper]\nbackoff_seconds = [1, "2"]\n`,
    /: shipper\.backoff_seconds: item 1 must be a number at least 0\.01 and at most 86400, got a string "2"$/,
  ],
  [
    "backoff not an array",
    `${MINIMAL}[shipper]\nbackoff_seconds = 5\n`,
    /: shipper\.backoff_seconds: must be an array of numbers/,
  ],
  [
    "max_episode_bytes zero",
    `${MINIMAL}[shipper]\nmax_episode_bytes = 0\n`,
    /: shipper\.max_episode_bytes: must be an integer from 1 to 9007199254740991, got 0$/,
  ],
  [
    "compression unknown",
    `${MINIMAL}[shipper]\ncompression = "brotli"\n`,
    /: shipper\.compression: must be one of "gzip", "zstd", "none", got "brotli"$/,
  ],
  [
    "keep_local_for_days fraction",
    `${MINIMAL}[retention]\nkeep_local_for_days = 1.5\n`,
    /: retention\.keep_local_for_days: must be an integer from 0 to 36500, got 1\.5$/,
  ],
  [
    "keep_local_for_days negative",
    `${MINIMAL}[retention]\nkeep_local_for_days = -1\n`,
    /: retention\.keep_local_for_days: must be an integer from 0 to 36500, got -1$/,
  ],
  ...rangeCases(),
  ["malformed TOML", `host_id = "h"\n[receiver\nurl = 1\n`, /lab-host\.toml: line 2, column \d+: /],
  [
    "ca_bundle missing",
    `${MINIMAL}ca_bundle = "/nonexistent/ca.pem"\n`,
    /: receiver\.ca_bundle: cannot read "\/nonexistent\/ca\.pem": file not found$/,
  ],
];

/** Out-of-range numbers (issue 5 item 6): each is refused at load, in one line. */
function rangeCases(): [string, string, RegExp][] {
  const seconds = "must be a number greater than 0 and at most 86400";
  const scan = "must be a number at least 0.05 and at most 86400";
  const backoff = "must be a number at least 0.01 and at most 86400";
  const cases: [string, string, string][] = [
    ["shipper", "request_timeout_s = 2200000", `${seconds}, got 2200000`],
    ["shipper", "request_timeout_s = inf", `${seconds}, got inf`],
    ["shipper", "scan_interval_s = 3000000", `${scan}, got 3000000`],
    ["shipper", "scan_interval_s = nan", `${scan}, got nan`],
    ["shipper", "scan_interval_s = -inf", `${scan}, got -inf`],
    ["shipper", "scan_interval_s = 1e-300", `${scan}, got 1e-300`],
    ["shipper", "backoff_seconds = [1e300]", `item 0 ${backoff}, got 1e+300`],
    ["shipper", "backoff_seconds = [1, nan]", `item 1 ${backoff}, got nan`],
    ["shipper", "backoff_seconds = [1, 0]", `item 1 ${backoff}, got 0`],
    ["shipper", "backoff_seconds = [0.000001]", `item 0 ${backoff}, got 0.000001`],
    [
      "shipper",
      `backoff_seconds = [${Array(65).fill(1).join(",")}]`,
      "must hold 1–64 numbers, got 65",
    ],
    [
      "shipper",
      "max_episode_bytes = 1.5",
      "must be an integer from 1 to 9007199254740991, got 1.5",
    ],
    [
      "shipper",
      "max_episode_bytes = 1e300",
      "must be an integer from 1 to 9007199254740991, got 1e+300",
    ],
    ["shipper", "upload_concurrency = 0", "must be an integer from 1 to 16, got 0"],
    ["shipper", "upload_concurrency = 17", "must be an integer from 1 to 16, got 17"],
    [
      "shipper",
      "max_bytes_per_second = 1023",
      "must be 0 or an integer from 1024 to 9007199254740991, got 1023",
    ],
    [
      "shipper",
      "max_bytes_per_second = -1",
      "must be 0 or an integer from 1024 to 9007199254740991, got -1",
    ],
    ["shipper", "stop_grace_s = 0", "must be a number greater than 0 and at most 300, got 0"],
    ["shipper", "stop_grace_s = 301", "must be a number greater than 0 and at most 300, got 301"],
    ["shipper", "compression_level = 10", "must be an integer from 1 to 9, got 10"],
    ["shipper", "compression_level = 0", "must be an integer from 1 to 9, got 0"],
    [
      "shipper",
      `compression = "zstd"\ncompression_level = 20`,
      "must be an integer from 1 to 19, got 20",
    ],
    [
      "shipper",
      `compression = "none"\ncompression_level = 1`,
      `has no meaning with shipper.compression = "none"; remove it`,
    ],
    ["retention", "keep_local_for_days = 36501", "must be an integer from 0 to 36500, got 36501"],
    ["retention", "keep_local_for_days = inf", "must be an integer from 0 to 36500, got inf"],
  ];
  return cases.map(([table, line, detail]) => {
    const key = `${table}.${(line.split("\n").at(-1) ?? "").split(" =")[0]}`;
    const escaped = `: ${key}: ${detail}`.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return [
      `${key} out of range (${line.split("\n").at(-1)})`,
      `${MINIMAL}[${table}]\n${line}\n`,
      new RegExp(`${escaped}$`),
    ];
  });
}

for (const [name, text, pattern] of ERRORS) {
  Deno.test(`loadConfig() reports ${name} in one line naming file and key`, async () => {
    await using dir = await tempDir();
    const message = await loadError(dir.path, text);
    assert(!message.includes("\n"), `one line: ${message}`);
    assert(message.startsWith(join(dir.path, "lab-host.toml") + ": "), message);
    assertMatch(message, pattern);
  });
}

Deno.test("loadConfig() reports a missing config file", async () => {
  const error = await assertRejects(() => loadConfig("/nonexistent/lab-host.toml"), ConfigError);
  assertEquals(error.message, "/nonexistent/lab-host.toml: file not found");
});

Deno.test("loadConfig() rejects malformed and mismatched PEM files at start", async () => {
  await using dir = await tempDir();
  const pki = await sharedPki();
  const garbage = join(dir.path, "garbage.pem");
  await Deno.writeTextFile(garbage, "not a certificate\n");
  const broken = join(dir.path, "broken.pem");
  await Deno.writeTextFile(
    broken,
    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
  );
  const lab1 = pki.client("lab-01");
  const lab2 = pki.client("lab-02");
  const cases: [string, RegExp][] = [
    [
      `ca_bundle = "${garbage}"`,
      /receiver\.ca_bundle: ".*garbage\.pem": no PEM certificate found$/,
    ],
    [
      `ca_bundle = "${broken}"`,
      /receiver\.ca_bundle: ".*broken\.pem": certificate 1 is malformed$/,
    ],
    [
      `client_cert = "${garbage}"\nclient_key = "${lab1.key}"`,
      /receiver\.client_cert: ".*garbage\.pem": no PEM certificate found$/,
    ],
    [
      `client_cert = "${lab1.cert}"\nclient_key = "${garbage}"`,
      /receiver\.client_key: ".*garbage\.pem": not an unencrypted PEM private key$/,
    ],
    [
      `client_cert = "${lab1.cert}"`,
      /receiver\.client_key: required when client_cert ".*client-lab-01\.pem" holds no private key$/,
    ],
    [
      `client_cert = "${lab1.cert}"\nclient_key = "${lab2.key}"`,
      /receiver\.client_key: ".*client-lab-02\.key" does not match the certificate in ".*client-lab-01\.pem"$/,
    ],
  ];
  for (const [lines, pattern] of cases) {
    assertMatch(await loadError(dir.path, `${MINIMAL}${lines}\n`), pattern);
  }
});

Deno.test("loadConfig() warns about unknown keys with a suggestion", async () => {
  await using dir = await tempDir();
  const { warnings } = await load(
    dir.path,
    `host_id = "h"\nscan_interval_s = 3\ncolour = "red"\n[receiver]\nurl = "https://c"\nverify_tsl = false\n[shiper]\nx = 1\n`,
  );
  const file = join(dir.path, "lab-host.toml");
  assertEquals(
    warnings.sort(),
    [
      `${file}: colour: unknown key, ignored`,
      `${file}: receiver.verify_tsl: unknown key, ignored (did you mean receiver.verify_tls?)`,
      `${file}: scan_interval_s: unknown key, ignored (did you mean shipper.scan_interval_s?)`,
      `${file}: shiper: unknown key, ignored (did you mean shipper?)`,
    ].sort(),
  );
});

Deno.test("loadConfig() warns at start when verify_tls is false, naming the receiver", async () => {
  await using dir = await tempDir();
  const { config, warnings } = await load(dir.path, `${MINIMAL}verify_tls = false\n`);
  assertEquals(config.receiver.verifyTls, false);
  assertEquals(warnings.length, 1);
  assertMatch(
    warnings[0] ?? "",
    /receiver\.verify_tls: false, so the collector's certificate is NOT verified for collector\.wg$/,
  );
});

Deno.test("loadConfig() warns that a token over http:// travels in clear, without printing it", async () => {
  await using dir = await tempDir();
  const { warnings } = await load(
    dir.path,
    `host_id = "h"\n[receiver]\nurl = "http://c"\nbearer_token = "tok-123"\n`,
  );
  assert(
    warnings.some((w) =>
      /receiver\.bearer_token: the token travels in clear over http:\/\//.test(w)
    ),
  );
  assert(warnings.every((w) => !w.includes("tok-123")));
});

Deno.test("loadConfig() reads the token from $CREDENTIALS_DIRECTORY and warns when others can read it", async () => {
  await using dir = await tempDir();
  const creds = join(dir.path, "creds");
  await Deno.mkdir(creds);
  await Deno.writeTextFile(join(creds, "cis490-token"), "tok-from-file\n");
  await Deno.chmod(join(creds, "cis490-token"), 0o600);
  const env = (n: string) => (n === "CREDENTIALS_DIRECTORY" ? creds : undefined);
  const text = `${MINIMAL}bearer_token_file = "\${CREDENTIALS_DIRECTORY}/cis490-token"\n`;
  const quiet = await load(dir.path, text, env);
  assertEquals(quiet.config.receiver.bearerToken, "tok-from-file");
  assertEquals(quiet.warnings, []);

  await Deno.chmod(join(creds, "cis490-token"), 0o644);
  const loud = await load(dir.path, text, env);
  assertEquals(loud.warnings.length, 1);
  assertMatch(
    loud.warnings[0] ?? "",
    /receiver\.bearer_token_file: ".*cis490-token" is readable by other users; chmod 600 it$/,
  );
  assert(!loud.warnings[0]?.includes("tok-from-file"));
});

Deno.test("loadConfig() warns when an inline token sits in a config others can read", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "lab-host.toml");
  await Deno.writeTextFile(file, `${MINIMAL}bearer_token = "tok"\n`);
  await Deno.chmod(file, 0o644);
  const { warnings } = await loadConfig(file, { env: await testEnv() });
  assertEquals(warnings.length, 1);
  assertMatch(
    warnings[0] ?? "",
    /receiver\.bearer_token: the file holding the token is readable by other users/,
  );
});

Deno.test("loadConfig() accepts every number at the ends of its range", async () => {
  await using dir = await tempDir();
  const high = await load(
    dir.path,
    `${MINIMAL}[shipper]\nscan_interval_s = 86400\nrequest_timeout_s = 86400.0\n` +
      `backoff_seconds = [${Array(64).fill(86400).join(",")}]\n` +
      `max_episode_bytes = 9007199254740991\nupload_concurrency = 16\n` +
      `max_bytes_per_second = 1024\nstop_grace_s = 300\ncompression = "zstd"\n` +
      `compression_level = 19\n[retention]\nkeep_local_for_days = 36500\n`,
  );
  assertEquals(high.warnings, []);
  const c = high.config;
  assertEquals(
    [c.scanIntervalS, c.requestTimeoutS, c.backoffSeconds.length, c.maxEpisodeBytes],
    [86400, 86400, 64, Number.MAX_SAFE_INTEGER],
  );
  assertEquals(
    [c.uploadConcurrency, c.maxBytesPerSecond, c.stopGraceS, c.compressionLevel],
    [16, 1024, 300, 19],
  );
  assertEquals(c.keepLocalForDays, 36500);
  const low = await load(
    dir.path,
    `${MINIMAL}[shipper]\nscan_interval_s = 0.05\nbackoff_seconds = [0.01]\n` +
      `max_episode_bytes = 1\nupload_concurrency = 1\nmax_bytes_per_second = 0\n` +
      `compression_level = 1\n[retention]\nkeep_local_for_days = 0\n`,
  );
  assertEquals(low.warnings, []);
  assertEquals(
    [low.config.scanIntervalS, low.config.backoffSeconds, low.config.maxEpisodeBytes],
    [0.05, [0.01], 1],
  );
  assertEquals(
    [low.config.uploadConcurrency, low.config.maxBytesPerSecond, low.config.compressionLevel],
    [1, 0, 1],
  );
  assertEquals(low.config.keepLocalForDays, 0);
});

Deno.test("loadConfig() refuses a bearer_token_file that is not a small regular file, without reading it whole", async () => {
  await using dir = await tempDir();
  const fifo = join(dir.path, "fifo");
  const mkfifo = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert(mkfifo.success, "mkfifo");
  const toZero = join(dir.path, "to-zero");
  await Deno.symlink("/dev/zero", toZero);
  const big = join(dir.path, "big");
  await Deno.writeTextFile(big, "t".repeat(4097));
  const notText = join(dir.path, "binary");
  await Deno.writeFile(notText, new Uint8Array([0x74, 0xff, 0x74]));
  const cases: [string, string][] = [
    ["/dev/zero", `"/dev/zero" is not a regular file`],
    [toZero, `"${toZero}" is not a regular file`],
    [fifo, `"${fifo}" is not a regular file`],
    [dir.path, `"${dir.path}" is not a regular file`],
    [big, `"${big}" is larger than 4096 bytes; it should hold only the token`],
    [notText, `"${notText}" is not UTF-8 text`],
  ];
  for (const [file, detail] of cases) {
    const message = await loadError(dir.path, `${MINIMAL}bearer_token_file = "${file}"\n`);
    assertEquals(
      message,
      `${join(dir.path, "lab-host.toml")}: receiver.bearer_token_file: ${detail}`,
    );
  }
});

Deno.test("loadConfig() reads a bearer_token_file of exactly 4 KiB through a symlink", async () => {
  await using dir = await tempDir();
  const real = join(dir.path, "real-token");
  await Deno.writeTextFile(real, "t".repeat(4095) + "\n");
  await Deno.chmod(real, 0o600);
  const link = join(dir.path, "token");
  await Deno.symlink(real, link);
  const { config, warnings } = await load(dir.path, `${MINIMAL}bearer_token_file = "${link}"\n`);
  assertEquals(config.receiver.bearerToken, "t".repeat(4095));
  assertEquals(warnings, []);
});

Deno.test("loadConfig() reports every problem at once, one line each, in file order", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "lab-host.toml");
  const error = await assertRejects(
    () =>
      load(
        dir.path,
        `host_id = "a/b"\n[receiver]\nurl = "ftp://c"\nverify_tls = "no"\n` +
          `[shipper]\nscan_interval_s = 0\nupload_concurrency = 99\n`,
      ),
    ConfigError,
  );
  assertEquals(error.message.split("\n"), [
    `${file}: host_id: "a/b" must match [A-Za-z0-9][A-Za-z0-9._-]{0,199}`,
    `${file}: receiver.url: must start with https://, got "ftp://"`,
    `${file}: receiver.verify_tls: must be true or false, got a string "no"`,
    `${file}: shipper.scan_interval_s: must be a number at least 0.05 and at most 86400, got 0`,
    `${file}: shipper.upload_concurrency: must be an integer from 1 to 16, got 99`,
  ]);
});

Deno.test("loadConfig() refuses a token that cannot travel in an HTTP header", async () => {
  await using dir = await tempDir();
  const tokenFile = join(dir.path, "token");
  const cases: [string, string, RegExp][] = [
    [
      "bearer_token",
      `"ab\\u0000cd"`,
      /receiver\.bearer_token: holds a control character at position 3, which an HTTP header cannot carry$/,
    ],
    [
      "bearer_token",
      `"ab\\tcd"`,
      /receiver\.bearer_token: holds a control character at position 3/,
    ],
    [
      "bearer_token",
      `"токен"`,
      /receiver\.bearer_token: holds a character outside Latin-1 at position 1, which an HTTP header cannot carry$/,
    ],
    [
      "bearer_token",
      `"a\\u007fb"`,
      /receiver\.bearer_token: holds a control character at position 2/,
    ],
    [
      "bearer_token_file",
      `"${tokenFile}"`,
      /receiver\.bearer_token_file: holds a character outside Latin-1 at position 3/,
    ],
  ];
  await Deno.writeTextFile(tokenFile, "ab€cd\n", { mode: 0o600 });
  for (const [key, value, pattern] of cases) {
    const message = await loadError(dir.path, `${MINIMAL}${key} = ${value}\n`);
    assertMatch(message, pattern);
    assert(!message.includes("ab€cd") && !message.includes("токен"), "the token is not printed");
  }
});

Deno.test("loadConfig() names bearer_token_file, not bearer_token, when the token comes from a file", async () => {
  await using dir = await tempDir();
  const tokenFile = join(dir.path, "token");
  await Deno.writeTextFile(tokenFile, "tok\n", { mode: 0o600 });
  const { warnings } = await load(
    dir.path,
    `host_id = "h"\n[receiver]\nurl = "http://c"\nbearer_token_file = "${tokenFile}"\n`,
  );
  assert(
    warnings.some((w) =>
      /receiver\.bearer_token_file: the token travels in clear over http:\/\//.test(w)
    ),
    warnings.join("\n"),
  );
});

Deno.test("loadConfig() keeps every error line short, however long the value", async () => {
  await using dir = await tempDir();
  const huge = "x".repeat(200 * 1024);
  const error = await assertRejects(
    () =>
      load(
        dir.path,
        `host_id = "${huge}/"\n${huge} = 1\n[receiver]\nurl = "https://c/${huge}?q"\nverify_tls = "${huge}"\n`,
      ),
    ConfigError,
  );
  const lines = error.message.split("\n");
  assertEquals(lines.length, 3);
  for (const line of lines) assert(line.length < 1000, `${line.length} characters`);
  assertMatch(lines[0] ?? "", /: host_id: "x{20,}…" must match/);
  assertMatch(
    lines[2] ?? "",
    /: receiver\.verify_tls: must be true or false, got a string "x{20,}…"$/,
  );
  // A config file of 10 MB is refused before it is read, in one short line.
  const file = join(dir.path, "huge.toml");
  await Deno.writeTextFile(file, `host_id = "${"x".repeat(10 * 1024 * 1024)}"\n`);
  const big = await assertRejects(() => loadConfig(file, { env: noEnv }), ConfigError);
  assertEquals(big.message, `${file}: larger than 1048576 bytes`);
});

Deno.test("loadConfig() warns when metrics_textfile's directory is missing or not a directory", async () => {
  await using dir = await tempDir();
  const missing = join(dir.path, "no-such-dir", "cis490.prom");
  const notDir = join(dir.path, "file");
  await Deno.writeTextFile(notDir, "");
  for (
    const [path, pattern] of [
      [missing, /shipper\.metrics_textfile: directory ".*no-such-dir" does not exist/],
      [join(notDir, "x.prom"), /shipper\.metrics_textfile: ".*file" is not a directory/],
    ] as const
  ) {
    const { warnings } = await load(
      dir.path,
      `${MINIMAL}[shipper]\nmetrics_textfile = "${path}"\n`,
    );
    assert(warnings.some((w) => pattern.test(w)), warnings.join("\n"));
  }
});

Deno.test("loadConfig() reads no named file that is not regular: a FIFO never blocks, a device is refused", async () => {
  await using dir = await tempDir();
  const pki = await sharedPki();
  const lab = pki.client("lab-01");
  const fifo = join(dir.path, "fifo");
  assert((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success, "mkfifo");
  // A writer that would unblock a reader of the FIFO: if the loader opened it, it would read this.
  const writer = new Deno.Command("sh", {
    args: ["-c", `while :; do cat "${pki.ca}" > "${fifo}"; done`],
  }).spawn();
  try {
    const cases: [string, RegExp][] = [
      [`ca_bundle = "${fifo}"`, /receiver\.ca_bundle: ".*fifo" is not a regular file$/],
      [`ca_bundle = "/dev/null"`, /receiver\.ca_bundle: "\/dev\/null" is not a regular file$/],
      [`ca_bundle = "/dev/zero"`, /receiver\.ca_bundle: "\/dev\/zero" is not a regular file$/],
      [
        `client_cert = "${fifo}"\nclient_key = "${lab.key}"`,
        /receiver\.client_cert: ".*fifo" is not a regular file$/,
      ],
      [
        `client_cert = "${lab.cert}"\nclient_key = "/dev/zero"`,
        /receiver\.client_key: "\/dev\/zero" is not a regular file$/,
      ],
    ];
    for (const [lines, pattern] of cases) {
      assertMatch(await loadError(dir.path, `${MINIMAL}${lines}\n`), pattern);
    }
    const config = await assertRejects(() => loadConfig(fifo, { env: noEnv }), ConfigError);
    assertEquals(config.message, `${fifo}: not a regular file`);
  } finally {
    writer.kill("SIGKILL");
    await writer.status;
  }
});

Deno.test("loadConfig() refuses a huge sparse ca_bundle without reading it", async () => {
  await using dir = await tempDir();
  const big = join(dir.path, "big.pem");
  const file = await Deno.open(big, { write: true, create: true });
  await file.truncate(10 * 1024 ** 3);
  file.close();
  assertMatch(
    await loadError(dir.path, `${MINIMAL}ca_bundle = "${big}"\n`),
    /receiver\.ca_bundle: ".*big\.pem" is larger than \d+ bytes$/,
  );
});

Deno.test({
  name: "loadConfig() warns when metrics_textfile's directory is not writable by data_root's owner",
  ignore: Deno.uid() !== 0, // chown
  fn: async () => {
    await using dir = await tempDir();
    const service = 4242 + (Deno.pid % 1000); // any uid without an account will do
    const dataRoot = join(dir.path, "data");
    await Deno.mkdir(dataRoot);
    await Deno.chown(dataRoot, service, service);
    const metrics = join(dir.path, "metrics");
    await Deno.mkdir(metrics);
    const env = await testEnv();
    const file = join(dir.path, "lab-host.toml");
    await Deno.writeTextFile(
      file,
      `${MINIMAL}[paths]\ndata_root = "${dataRoot}"\n[shipper]\nmetrics_textfile = "${
        join(metrics, "cis490.prom")
      }"\n`,
      { mode: 0o600 },
    );
    const warnings = async () => (await loadConfig(file, { env })).warnings;
    await Deno.chmod(metrics, 0o755); // root's
    assertEquals(await warnings(), [
      `${file}: shipper.metrics_textfile: directory "${metrics}" is not writable by the owner of ` +
      `data_root (uid ${service}, the service's user): no metrics will be written`,
    ]);
    await Deno.chmod(metrics, 0o775); // the group may write: maybe the service's user is in it
    assertEquals(await warnings(), []);
    await Deno.chmod(metrics, 0o755);
    await Deno.chown(metrics, service, service);
    assertEquals(await warnings(), []);
  },
});
