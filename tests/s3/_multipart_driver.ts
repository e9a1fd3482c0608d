/**
 * A shipper-sized process for the kill -9 test: sends one parcel through the S3 receiver, keeping
 * multipart progress in a JSON file through `saveResume` (as the queue keeps it in the outbox
 * state) and reading it back at start. Credentials come from `$CREDENTIALS_DIRECTORY`, as under
 * systemd. Run under the binary's permission flags.
 *
 * argv[0]: a JSON job file (`DriverJob`). With `stallAfterParts`, the process stops making
 * progress once that many parts are saved, so the test can kill it at a known point without
 * guessing how long an upload takes. Prints `{ answer, partsSent }` as JSON when done.
 */
import { writeJsonAtomic } from "../../src/fs/atomic.ts";
import type { Parcel } from "../../src/upload/receiver.ts";
import { readS3Credentials, S3_CREDENTIAL_FILES } from "../../src/upload/s3/credentials.ts";
import { S3Receiver } from "../../src/upload/s3/s3_receiver.ts";
import type { S3Settings } from "../../src/upload/s3/settings.ts";

/** What the driver is asked to do. */
export interface DriverJob {
  settings: Omit<S3Settings, "credentials">;
  parcel: Parcel;
  resumeFile: string;
  stallAfterParts?: number;
}

const job = JSON.parse(await Deno.readTextFile(Deno.args[0] as string)) as DriverJob;
const { credentials } = await readS3Credentials(S3_CREDENTIAL_FILES);
const receiver = new S3Receiver({ ...job.settings, credentials });
const resume: unknown = await Deno.readTextFile(job.resumeFile).then(JSON.parse, () => undefined);
let partsSent = 0;
let previous = savedParts(resume);
const answer = await receiver.send(job.parcel, {
  ...(resume !== undefined && { resume }),
  saveResume: async (value) => {
    // One part sent is one save that adds one part.
    const parts = savedParts(value);
    if (parts === previous + 1) partsSent++;
    previous = parts;
    await writeJsonAtomic(job.resumeFile, value);
    if (job.stallAfterParts !== undefined && parts >= job.stallAfterParts) {
      // Keep the process alive and still, for the kill -9 that ends it.
      setInterval(() => {}, 1 << 30);
      await new Promise(() => {});
    }
  },
});
receiver.close();
console.log(JSON.stringify({ answer, partsSent }));

function savedParts(value: unknown): number {
  return (value as { parts?: unknown[] } | null)?.parts?.length ?? 0;
}
