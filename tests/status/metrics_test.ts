import { assertEquals, assertRejects } from "../support/assert.ts";
import { join } from "node:path";
import { names, tempDir } from "../../devkit/fixtures.ts";
import { metricsInputOf, renderMetrics, writeMetricsTextfile } from "../../src/status/metrics.ts";
import { buildStatus } from "../../src/status/status.ts";

const STATES = {
  incomplete: { count: 1, bytes: 10 },
  ready: { count: 2, bytes: 20 },
  rejected: { count: 6, bytes: 60 },
  packed: { count: 0, bytes: 0 },
  waiting: { count: 3, bytes: 30 },
  shipped: { count: 4, bytes: null },
  quarantined: { count: 5, bytes: null },
};

Deno.test("renderMetrics() writes the exact textfile lines", () => {
  const text = renderMetrics({
    states: STATES,
    counters: { shipped: 7, duplicates: 1, quarantined: 2, failed_attempts: 3, bytes_shipped: 999 },
    lastSuccessAt: Date.UTC(2026, 0, 1, 0, 0, 1, 500),
    paused: true,
    clientCertNotAfter: Date.UTC(2026, 1, 1),
    oldestUnshippedAgeS: 42,
    unconfirmed: 1,
  });
  assertEquals(text.split("\n"), [
    "# HELP cis490_ship_backlog_episodes Episodes by state.",
    "# TYPE cis490_ship_backlog_episodes gauge",
    'cis490_ship_backlog_episodes{state="incomplete"} 1',
    'cis490_ship_backlog_episodes{state="ready"} 2',
    'cis490_ship_backlog_episodes{state="rejected"} 6',
    'cis490_ship_backlog_episodes{state="packed"} 0',
    'cis490_ship_backlog_episodes{state="waiting"} 3',
    'cis490_ship_backlog_episodes{state="shipped"} 4',
    'cis490_ship_backlog_episodes{state="quarantined"} 5',
    "# HELP cis490_ship_backlog_bytes Bytes of episode files by state (episodes/ only: shipped/ and quarantine/ are not walked).",
    "# TYPE cis490_ship_backlog_bytes gauge",
    'cis490_ship_backlog_bytes{state="incomplete"} 10',
    'cis490_ship_backlog_bytes{state="ready"} 20',
    'cis490_ship_backlog_bytes{state="rejected"} 60',
    'cis490_ship_backlog_bytes{state="packed"} 0',
    'cis490_ship_backlog_bytes{state="waiting"} 30',
    "# HELP cis490_ship_unconfirmed_episodes Shipped episodes the collector never confirmed holding (a 409 without a digest).",
    "# TYPE cis490_ship_unconfirmed_episodes gauge",
    "cis490_ship_unconfirmed_episodes 1",
    "# HELP cis490_ship_uploads_total Upload outcomes (service: since it started; --once: summed over runs).",
    "# TYPE cis490_ship_uploads_total counter",
    'cis490_ship_uploads_total{outcome="shipped"} 7',
    'cis490_ship_uploads_total{outcome="duplicate"} 1',
    'cis490_ship_uploads_total{outcome="quarantined"} 2',
    'cis490_ship_uploads_total{outcome="failed"} 3',
    "# HELP cis490_ship_shipped_bytes_total Tarball bytes shipped (counted as uploads_total).",
    "# TYPE cis490_ship_shipped_bytes_total counter",
    "cis490_ship_shipped_bytes_total 999",
    "# HELP cis490_ship_paused 1 while uploads are paused for the whole host.",
    "# TYPE cis490_ship_paused gauge",
    "cis490_ship_paused 1",
    "# HELP cis490_ship_last_success_timestamp_seconds Time of the last successful upload.",
    "# TYPE cis490_ship_last_success_timestamp_seconds gauge",
    "cis490_ship_last_success_timestamp_seconds 1767225601",
    "# HELP cis490_ship_oldest_unshipped_age_seconds Age of the oldest unshipped episode.",
    "# TYPE cis490_ship_oldest_unshipped_age_seconds gauge",
    "cis490_ship_oldest_unshipped_age_seconds 42",
    "# HELP cis490_ship_client_certificate_expiry_timestamp_seconds When the client certificate expires.",
    "# TYPE cis490_ship_client_certificate_expiry_timestamp_seconds gauge",
    "cis490_ship_client_certificate_expiry_timestamp_seconds 1769904000",
    "",
  ]);
});

Deno.test("renderMetrics() leaves out unknown times and renders zero counters without a daemon", () => {
  const report = buildStatus({
    dataRoot: "/d",
    hostId: "h",
    episodes: [],
    shipped: 0,
    quarantined: 0,
    unconfirmed: 0,
    outboxBytes: 0,
    holder: null,
    daemon: null,
  }, 0);
  const text = renderMetrics(metricsInputOf(report, null));
  assertEquals(text.includes("last_success"), false);
  assertEquals(text.includes("client_certificate"), false);
  assertEquals(text.includes("oldest_unshipped"), false);
  assertEquals(text.includes('cis490_ship_uploads_total{outcome="shipped"} 0\n'), true);
  assertEquals(text.includes("cis490_ship_paused 0\n"), true);
});

Deno.test("writeMetricsTextfile() replaces the file atomically with mode 0644 under any umask", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "cis490.prom");
  const old = Deno.umask(0o077);
  try {
    await writeMetricsTextfile(path, "a 1\n");
    await writeMetricsTextfile(path, "a 2\n");
  } finally {
    Deno.umask(old);
  }
  assertEquals(await Deno.readTextFile(path), "a 2\n");
  assertEquals(((await Deno.stat(path)).mode ?? 0) & 0o777, 0o644);
  assertEquals(await names(tmp.path), ["cis490.prom"], "no temporary file left");
});

Deno.test("writeMetricsTextfile() leaves no temporary file behind when the rename fails", async () => {
  await using tmp = await tempDir();
  const target = join(tmp.path, "metrics.prom");
  await Deno.mkdir(target); // a directory where the file should go
  await Deno.writeTextFile(join(target, "x"), "");
  await assertRejects(() => writeMetricsTextfile(target, "x 1\n"));
  assertEquals(await names(tmp.path), ["metrics.prom"]);
});
