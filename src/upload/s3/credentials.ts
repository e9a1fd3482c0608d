/**
 * The S3 access key id and secret, read from files: systemd's `LoadCredential=` hands them over
 * in `$CREDENTIALS_DIRECTORY`, so a relative name is looked up there. The secret never reaches a
 * log line or an error message; only the file names do.
 */
import { isAbsolute, join } from "node:path";

/** The two halves of an S3 key. */
export interface S3Credentials {
  accessKeyId: string;
  /** Never logged, never printed. */
  secretAccessKey: string;
}

/** Default file names, looked up in `$CREDENTIALS_DIRECTORY` (systemd's credential names). */
export const S3_CREDENTIAL_FILES = {
  accessKeyId: "s3-access-key-id",
  secretAccessKey: "s3-secret-access-key",
} as const;

/** Options for {@linkcode readS3Credentials}. */
export interface ReadS3CredentialsOptions {
  /** Where relative names are looked up. @default {the `CREDENTIALS_DIRECTORY` variable} */
  credentialsDirectory?: string | undefined;
}

/** The credentials and any warnings (a secret other users can read). */
export interface S3CredentialsRead {
  credentials: S3Credentials;
  warnings: string[];
}

/** Access key ids are printable ASCII without spaces (AWS: 16–128 of A-Z0-9; RGW: any such). */
const ACCESS_KEY_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Reads the access key id and secret from their files. A relative name is looked up in the
 * credentials directory. Trailing newlines and spaces are ignored; anything else is refused.
 * @throws {Error} naming the file and what is wrong, never the contents
 * @example
 * ```ts
 * const { credentials } = await readS3Credentials(S3_CREDENTIAL_FILES);
 * ```
 */
export async function readS3Credentials(
  files: { accessKeyId: string; secretAccessKey: string },
  options: ReadS3CredentialsOptions = {},
): Promise<S3CredentialsRead> {
  const dir = "credentialsDirectory" in options
    ? options.credentialsDirectory
    : Deno.env.get("CREDENTIALS_DIRECTORY");
  const warnings: string[] = [];
  const accessKeyId = await readOne(files.accessKeyId, dir, "access key id", warnings, false);
  if (!ACCESS_KEY_ID.test(accessKeyId)) {
    throw new Error(
      `Cannot use the access key id in "${resolve(files.accessKeyId, dir)}": ` +
        "it must be one line of printable characters without spaces",
    );
  }
  const secretAccessKey = await readOne(files.secretAccessKey, dir, "secret", warnings, true);
  // deno-lint-ignore no-control-regex -- a control character in a secret is a broken file
  if (/[\s\x00-\x1f\x7f]/.test(secretAccessKey)) {
    throw new Error(
      `Cannot use the secret in "${resolve(files.secretAccessKey, dir)}": ` +
        "it must be one line without spaces",
    );
  }
  return { credentials: { accessKeyId, secretAccessKey }, warnings };
}

function resolve(name: string, dir: string | undefined): string {
  if (isAbsolute(name)) return name;
  if (!dir) {
    throw new Error(
      `Cannot find "${name}": a relative name is looked up in $CREDENTIALS_DIRECTORY, ` +
        "which is not set (give an absolute path, or LoadCredential= in the unit)",
    );
  }
  return join(dir, name);
}

async function readOne(
  name: string,
  dir: string | undefined,
  what: string,
  warnings: string[],
  secret: boolean,
): Promise<string> {
  const path = resolve(name, dir);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "file not found"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new Error(`Cannot read the ${what} from "${path}": ${why}`);
  }
  const value = text.replace(/[\r\n \t]+$/, "");
  if (value === "") throw new Error(`Cannot use the ${what} in "${path}": the file is empty`);
  if (secret) {
    const mode = (await Deno.stat(path).catch(() => null))?.mode;
    if (mode != null && (mode & 0o004) !== 0) {
      warnings.push(`"${path}" holds the S3 secret and is readable by other users; chmod 600 it`);
    }
  }
  return value;
}
