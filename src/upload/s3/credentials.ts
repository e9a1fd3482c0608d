/**
 * The S3 access key id and secret, read from files: systemd's `LoadCredential=` hands them over
 * in `$CREDENTIALS_DIRECTORY`, so a relative name is looked up there. The secret never reaches a
 * log line or an error message; only the file names do.
 */
import { isAbsolute, join } from "node:path";
import { readBoundedText, ReadProblem } from "../../config/read_bounded.ts";

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

/** Which file a problem is about. */
export type S3CredentialFile = keyof S3Credentials;

/** Every problem with the two files (the message is the first's), never their contents. */
export class S3CredentialsError extends Error {
  constructor(readonly problems: readonly { file: S3CredentialFile; message: string }[]) {
    super(problems[0]?.message ?? "Cannot read the S3 credentials");
    this.name = "S3CredentialsError";
  }
}

/** The most a credential file may hold: far beyond any key (AWS's secrets are 40 characters). */
export const MAX_CREDENTIAL_FILE_BYTES = 4096;

/** Access key ids are printable ASCII without spaces (AWS: 16–128 of A-Z0-9; RGW: any such). */
const ACCESS_KEY_ID = /^[\x21-\x7e]{1,128}$/;

/** `${CREDENTIALS_DIRECTORY}` or `$CREDENTIALS_DIRECTORY` in a configured name. */
const DIR_VARIABLE = /\$\{?CREDENTIALS_DIRECTORY\}?/g;

/**
 * Reads the access key id and secret from their files. A relative name, or one starting with
 * `${CREDENTIALS_DIRECTORY}`, is looked up in the credentials directory. Only a regular file of at
 * most 4 KiB is read. Trailing newlines and spaces are ignored; anything else is refused.
 * @throws {S3CredentialsError} naming each file and what is wrong, never the contents
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
  const problems: { file: S3CredentialFile; message: string }[] = [];
  const attempt = async (file: S3CredentialFile, read: () => Promise<string>) => {
    try {
      return await read();
    } catch (error) {
      problems.push({ file, message: (error as Error).message });
      return "";
    }
  };
  const accessKeyId = await attempt("accessKeyId", async () => {
    const value = await readOne(files.accessKeyId, dir, "access key id", warnings, false);
    if (!ACCESS_KEY_ID.test(value)) {
      throw new Error(
        `Cannot use the access key id in "${resolve(files.accessKeyId, dir)}": ` +
          "it must be one line of printable characters without spaces",
      );
    }
    return value;
  });
  const secretAccessKey = await attempt("secretAccessKey", async () => {
    const value = await readOne(files.secretAccessKey, dir, "secret", warnings, true);
    // deno-lint-ignore no-control-regex -- a control character in a secret is a broken file
    if (/[\s\x00-\x1f\x7f]/.test(value)) {
      throw new Error(
        `Cannot use the secret in "${resolve(files.secretAccessKey, dir)}": ` +
          "it must be one line without spaces",
      );
    }
    return value;
  });
  if (problems.length > 0) throw new S3CredentialsError(problems);
  return { credentials: { accessKeyId, secretAccessKey }, warnings };
}

function resolve(name: string, dir: string | undefined): string {
  const named = DIR_VARIABLE.test(name);
  DIR_VARIABLE.lastIndex = 0;
  if (!named && isAbsolute(name)) return name;
  if (!dir) {
    throw new Error(
      `Cannot find "${name}": a relative name is looked up in $CREDENTIALS_DIRECTORY, ` +
        "which is not set (give an absolute path, or LoadCredential= in the unit)",
    );
  }
  return named ? name.replace(DIR_VARIABLE, dir) : join(dir, name);
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
    text = await readBoundedText(path, { limit: MAX_CREDENTIAL_FILE_BYTES });
  } catch (error) {
    if (!(error instanceof ReadProblem)) throw error;
    throw new Error(`Cannot read the ${what} from "${path}": ${error.reason}`);
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
