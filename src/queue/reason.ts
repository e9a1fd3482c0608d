/** The content of `quarantine_reason.json` (README, "Where episodes go"). Pure. */
import { REASON_FILE } from "../layout.ts";
import { VERSION } from "../version.ts";

/** The file written beside a quarantined episode's files. */
export { REASON_FILE };

/** Who decided to quarantine. */
export type QuarantineSource = "collector" | "preflight" | "drain";

/** What `quarantine_reason.json` holds. */
export interface QuarantineReason {
  episode_id: string;
  host_id: string;
  quarantined_at: string;
  source: QuarantineSource;
  reason: string;
  http_status: number | null;
  response_body: string | null;
  code_version_commit: string | null;
  shipper_version: string;
}

/** Builds a quarantine reason. */
export function quarantineReason(fields: {
  episodeId: string;
  hostId: string;
  now: number;
  source: QuarantineSource;
  reason: string;
  httpStatus?: number;
  responseBody?: string;
  commit: string | null;
}): QuarantineReason {
  return {
    episode_id: fields.episodeId,
    host_id: fields.hostId,
    quarantined_at: new Date(fields.now).toISOString(),
    source: fields.source,
    reason: fields.reason,
    http_status: fields.httpStatus ?? null,
    response_body: fields.responseBody ?? null,
    code_version_commit: fields.commit,
    shipper_version: VERSION,
  };
}
