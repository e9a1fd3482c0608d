/** readS3Credentials(): the key from files, relative names in $CREDENTIALS_DIRECTORY. */
import { join } from "node:path";
import { readS3Credentials, S3_CREDENTIAL_FILES } from "../../src/upload/s3/credentials.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("readS3Credentials() reads the default names from the credentials directory", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(join(dir, S3_CREDENTIAL_FILES.accessKeyId), "AKID0001\n");
    await Deno.writeTextFile(join(dir, S3_CREDENTIAL_FILES.secretAccessKey), `${SECRET}\r\n`, {
      mode: 0o600,
    });
    await Deno.chmod(join(dir, S3_CREDENTIAL_FILES.secretAccessKey), 0o600);
    const read = await readS3Credentials(S3_CREDENTIAL_FILES, { credentialsDirectory: dir });
    assertEquals(read, {
      credentials: { accessKeyId: "AKID0001", secretAccessKey: SECRET },
      warnings: [],
    });
  });
});

Deno.test("readS3Credentials() reads absolute paths without a credentials directory", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "id"), "AKID0001");
    await Deno.writeTextFile(join(dir, "secret"), SECRET);
    await Deno.chmod(join(dir, "secret"), 0o644);
    const read = await readS3Credentials(
      { accessKeyId: join(dir, "id"), secretAccessKey: join(dir, "secret") },
      { credentialsDirectory: undefined },
    );
    assertEquals(read.credentials.secretAccessKey, SECRET);
    assertEquals(read.warnings.length, 1);
    assertMatch(read.warnings[0] ?? "", /readable by other users; chmod 600 it/);
  });
});

Deno.test("readS3Credentials() says what is wrong, never the secret", async () => {
  await withDir(async (dir) => {
    const noDir = await assertRejects(() =>
      readS3Credentials(S3_CREDENTIAL_FILES, { credentialsDirectory: undefined })
    );
    assertMatch(noDir.message, /\$CREDENTIALS_DIRECTORY, which is not set/);
    const missing = await assertRejects(() =>
      readS3Credentials(S3_CREDENTIAL_FILES, { credentialsDirectory: dir })
    );
    assertMatch(
      missing.message,
      /^Cannot read the access key id from ".*s3-access-key-id": file not found$/,
    );
    await Deno.writeTextFile(join(dir, S3_CREDENTIAL_FILES.accessKeyId), "AKID0001");
    await Deno.writeTextFile(join(dir, S3_CREDENTIAL_FILES.secretAccessKey), "\n");
    const empty = await assertRejects(() =>
      readS3Credentials(S3_CREDENTIAL_FILES, { credentialsDirectory: dir })
    );
    assertMatch(empty.message, /the file is empty/);
    await Deno.writeTextFile(join(dir, S3_CREDENTIAL_FILES.secretAccessKey), `${SECRET} extra`);
    const spaced = await assertRejects(() =>
      readS3Credentials(S3_CREDENTIAL_FILES, { credentialsDirectory: dir })
    );
    assertMatch(spaced.message, /one line without spaces/);
    assert(!spaced.message.includes(SECRET));
  });
});

Deno.test("readS3Credentials() reads only a regular file of at most 4 KiB", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(join(dir, S3_CREDENTIAL_FILES.accessKeyId), "AKID0001");
    // A secret file that is something else: a pasted key bundle, a device.
    await Deno.writeTextFile(join(dir, "big"), "k".repeat(5000));
    const big = await assertRejects(() =>
      readS3Credentials(
        { accessKeyId: S3_CREDENTIAL_FILES.accessKeyId, secretAccessKey: "big" },
        { credentialsDirectory: dir },
      )
    );
    assertMatch(big.message, /^Cannot read the secret from ".*big": larger than 4096 bytes$/);
    const device = await assertRejects(() =>
      readS3Credentials(
        { accessKeyId: S3_CREDENTIAL_FILES.accessKeyId, secretAccessKey: "/dev/zero" },
        { credentialsDirectory: dir },
      )
    );
    assertMatch(device.message, /^Cannot read the secret from "\/dev\/zero": not a regular file$/);
  });
});
