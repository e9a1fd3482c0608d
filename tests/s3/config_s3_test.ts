/**
 * loadConfig() with `receiver.bucket`: the three lines and a credentials directory make an S3
 * receiver; every problem of the object-store keys is named at once; the secret never appears in
 * an error or a warning.
 */
import { join } from "node:path";
import { tempDir } from "../../devkit/fixtures.ts";
import { ConfigError, configuredSecrets, loadConfig } from "../../src/config/config.ts";
import { createReceiver } from "../../src/upload/create_receiver.ts";
import { S3Receiver } from "../../src/upload/s3/s3_receiver.ts";
import { s3SettingsOf } from "../../src/upload/s3/settings.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

async function setUp(dir: string, receiver: string, creds = true): Promise<string> {
  const credentials = join(dir, "credentials");
  await Deno.mkdir(credentials, { recursive: true });
  if (creds) {
    await Deno.writeTextFile(join(credentials, "s3-access-key-id"), "AKID0001\n");
    await Deno.writeTextFile(join(credentials, "s3-secret-access-key"), `${SECRET}\n`, {
      mode: 0o600,
    });
    await Deno.chmod(join(credentials, "s3-secret-access-key"), 0o600);
  }
  const file = join(dir, "lab-host.toml");
  await Deno.writeTextFile(
    file,
    `host_id = "lab-01"\n[paths]\ndata_root = "${dir}"\n[receiver]\n${receiver}\n`,
  );
  return file;
}

const env = (dir: string) => (name: string) =>
  name === "CREDENTIALS_DIRECTORY" ? join(dir, "credentials") : undefined;

Deno.test("loadConfig() makes an S3 receiver from three lines and a credentials directory", async () => {
  await using dir = await tempDir();
  const file = await setUp(
    dir.path,
    'url = "https://rgw.lab.example:7480/"\nbucket = "episodes"\nkey_prefix = "cis490"',
  );
  const { config, warnings } = await loadConfig(file, { env: env(dir.path), cwd: dir.path });
  assertEquals(warnings, []);
  const settings = s3SettingsOf(config);
  assert(settings);
  assertEquals(
    { ...settings, tls: {} },
    {
      endpoint: "https://rgw.lab.example:7480",
      bucket: "episodes",
      prefix: "cis490",
      region: "us-east-1",
      pathStyle: true,
      credentials: { accessKeyId: "AKID0001", secretAccessKey: SECRET },
      tls: {},
      verifyTls: true,
      partBytes: 16 * 1024 * 1024,
      multipartThresholdBytes: 64 * 1024 * 1024,
      requestTimeoutMs: 60_000,
    },
  );
  assertEquals(configuredSecrets(config), [SECRET]);
  const receiver = createReceiver(config);
  try {
    assert(receiver instanceof S3Receiver);
    assertEquals(receiver.noun, "object store");
    assertEquals(receiver.describe, "s3://episodes/cis490 at https://rgw.lab.example:7480");
  } finally {
    receiver.close();
  }
});

Deno.test("loadConfig() without a bucket keeps the collector receiver", async () => {
  await using dir = await tempDir();
  const file = await setUp(dir.path, 'url = "https://collector.example:8443"', false);
  const { config } = await loadConfig(file, { env: () => undefined, cwd: dir.path });
  assertEquals(config.receiver.s3, undefined);
  assertEquals(s3SettingsOf(config), null);
  const receiver = createReceiver(config);
  try {
    assert(!(receiver instanceof S3Receiver));
    assertEquals(receiver.noun, "collector");
  } finally {
    receiver.close();
  }
});

Deno.test("loadConfig() names every problem of the object-store keys at once", async () => {
  await using dir = await tempDir();
  const file = await setUp(
    dir.path,
    [
      'url = "https://rgw.lab.example:7480/episodes"',
      'bucket = "episodes"',
      'key_prefix = "/lab"',
      'region = "US East"',
      "multipart_part_bytes = 1024",
      "multipart_threshold_bytes = 6291456",
      'bearer_token = "t0ken"',
      'access_key_id_file = "missing-id"',
    ].join("\n"),
  );
  const error = await assertRejects(
    () => loadConfig(file, { env: env(dir.path), cwd: dir.path }),
    ConfigError,
  );
  const lines = error.lines.map((l) => l.slice(file.length + 2));
  assertEquals(lines.length, 6, lines.join("\n"));
  assertMatch(lines[0]!, /^receiver\.key_prefix: "\/lab" must be segments/);
  assertMatch(lines[1]!, /^receiver\.region: "US East" is not a region name/);
  assertMatch(lines[2]!, /^receiver\.multipart_part_bytes: /);
  assertMatch(lines[3]!, /^receiver\.bearer_token: has no meaning with receiver\.bucket/);
  assertMatch(lines[4]!, /^receiver\.url: with receiver\.bucket, .* scheme, host and port only/);
  assertMatch(
    lines[5]!,
    /^receiver\.access_key_id_file: cannot read the access key id from ".*missing-id": file not found$/,
  );
});

Deno.test("loadConfig() refuses object-store keys without a bucket, and a threshold below the part", async () => {
  await using dir = await tempDir();
  const stray = await setUp(
    dir.path,
    'url = "https://collector.example:8443"\nkey_prefix = "lab"\npath_style = false',
  );
  const e1 = await assertRejects(() => loadConfig(stray, { env: env(dir.path) }), ConfigError);
  assertEquals(e1.lines.map((l) => l.slice(stray.length + 2)), [
    "receiver.key_prefix: has no meaning without receiver.bucket (the receiver is a collector); remove it",
    "receiver.path_style: has no meaning without receiver.bucket (the receiver is a collector); remove it",
  ]);
  const low = await setUp(
    dir.path,
    'url = "http://rgw:7480"\nbucket = "b-1"\nmultipart_part_bytes = 8388608\n' +
      "multipart_threshold_bytes = 6291456",
  );
  const e2 = await assertRejects(() => loadConfig(low, { env: env(dir.path) }), ConfigError);
  assertEquals(e2.lines.map((l) => l.slice(low.length + 2)), [
    "receiver.multipart_threshold_bytes: 6291456 is below receiver.multipart_part_bytes " +
    "(8388608): an episode must make at least one whole part",
  ]);
});

Deno.test("loadConfig() reads credential files by absolute path or ${CREDENTIALS_DIRECTORY}, never printing the secret", async () => {
  await using dir = await tempDir();
  const creds = join(dir.path, "credentials");
  const absolute = await setUp(
    dir.path,
    `url = "http://rgw:7480"\nbucket = "episodes"\n` +
      `access_key_id_file = "${creds}/s3-access-key-id"\n` +
      'secret_access_key_file = "${CREDENTIALS_DIRECTORY}/s3-secret-access-key"',
  );
  await Deno.chmod(join(creds, "s3-secret-access-key"), 0o644);
  const { config, warnings } = await loadConfig(absolute, { env: env(dir.path) });
  assertEquals(config.receiver.s3?.credentials.secretAccessKey, SECRET);
  assert(warnings.some((w) => /readable by other users; chmod 600 it/.test(w)), warnings.join());
  for (const w of warnings) assert(!w.includes(SECRET));
  // Without the directory: both files named, at once, and the secret nowhere.
  const none = await setUp(dir.path, 'url = "http://rgw:7480"\nbucket = "episodes"');
  const error = await assertRejects(() => loadConfig(none, { env: () => undefined }), ConfigError);
  assertEquals(error.lines.length, 2);
  assertMatch(
    error.lines[0]!,
    /receiver\.access_key_id_file: .*\$CREDENTIALS_DIRECTORY, which is not set/,
  );
  assertMatch(error.lines[1]!, /receiver\.secret_access_key_file: .*\$CREDENTIALS_DIRECTORY/);
  // A secret file holding two lines is refused by name only.
  await Deno.writeTextFile(join(creds, "s3-secret-access-key"), `${SECRET}\nmore\n`);
  const two = await assertRejects(() => loadConfig(none, { env: env(dir.path) }), ConfigError);
  assertMatch(two.message, /cannot use the secret in ".*": it must be one line without spaces/);
  assert(!two.message.includes(SECRET));
});
