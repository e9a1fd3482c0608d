/**
 * A throwaway single-node Ceph cluster with a RADOS Gateway: the S3 store nobody here wrote.
 *
 * Debian's Pacific packages run it without systemd or ceph-mgr: one `ceph-mon` made with
 * `monmaptool` + `--mkfs` (msgr2 only, on 127.0.0.1), one `ceph-osd` on `memstore` (RAM, nothing
 * on a disk but its small data dir), pools of size 1, and `radosgw` with beast on a free port.
 * Authentication between the daemons is off (`auth … required = none`): they only listen on
 * 127.0.0.1, and the S3 side still signs and checks every request with a user's keys.
 *
 * Why each setting is there:
 * - `ms mon client mode = crc`: radosgw asks the monitor for the `secure` mode only, which needs
 *   cephx; without this line it retries forever with `get_initial_auth_request returned -13`.
 * - `paxos propose interval`/`paxos min wait`: the monitor batches map changes for 1 s by default;
 *   radosgw's start makes ~15 of them (pools), so this cuts the start from ~17 s to ~2 s.
 * - `osd pool default pg num = 8`: radosgw creates 6 pools; at the default 32 PGs each they pass
 *   `mon max pg per osd` (250) on one OSD and pool creation fails.
 * - `mon cluster log to file = false`, `crash dir`, `run dir`: nothing is written outside the
 *   cluster's directory (the defaults are /var/log/ceph, /var/lib/ceph/crash, /run/ceph).
 *
 * Readiness is waited for, never guessed: `ceph osd new` blocks until the monitor answers, and the
 * gateway is ready when its port answers HTTP. Stopped with SIGKILL by pid (the store is in RAM
 * and thrown away; a polite stop makes the OSD wait 5 s for the monitor), then its directory is
 * removed.
 */
import { join } from "node:path";

/** A running cluster; stop it with `await using` or `stop()`. */
export interface Ceph extends AsyncDisposable {
  /** The gateway's S3 endpoint: `http://127.0.0.1:PORT`. */
  endpoint: string;
  /** Access key id of the S3 user made at start. */
  accessKeyId: string;
  /** Its secret access key. */
  secretAccessKey: string;
  /** The CA that signed the gateway's certificate, when it serves TLS (for curl). */
  caFile?: string;
  /** Holds the config, the daemons' data, logs and sockets. */
  dir: string;
  /** Process ids of ceph-mon, ceph-osd and radosgw. */
  pids: number[];
  /** Milliseconds from the first command to a gateway that answers with a user made. */
  startMs: number;
  /**
   * The gateway's access log so far, one `METHOD TARGET STATUS` per request in the order they
   * ended (beast's own lines in its log file, written asynchronously: wait for the line you
   * expect rather than reading once).
   */
  requests(): Promise<string[]>;
  /** Resident memory of the three daemons now, in bytes (from /proc). */
  rssBytes(): Promise<number>;
  /** Runs `radosgw-admin` against this cluster. @throws {Error} with its stderr on failure */
  admin(args: string[]): Promise<string>;
  /** Makes an S3 user; returns its keys. */
  createUser(uid: string): Promise<{ accessKeyId: string; secretAccessKey: string }>;
  /** Kills the daemons by pid, waits for them, removes the directory. */
  stop(): Promise<void>;
}

/** Options for {@linkcode startCeph}. */
export interface StartCephOptions {
  /**
   * Serve S3 over TLS with this certificate and key (PEM paths; `ca` signed the certificate)
   * instead of plain HTTP.
   * @default {plain HTTP}
   */
  tls?: { cert: string; key: string; ca: string };
  /** More `[global]` lines of ceph.conf (`rgw max put size = 1048576`). @default {none} */
  extraConfig?: string;
}

/** The Debian packages the cluster needs (scripts/test.sh installs them when missing). */
export const CEPH_PACKAGES = ["radosgw", "ceph-mon", "ceph-osd", "ceph-common"] as const;

/** The hang guard of every wait: far beyond any start, so a broken start fails instead of hanging. */
const HANG_GUARD_MS = 300_000;

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function configText(dir: string, fsid: string, monPort: number): string {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
auth cluster required = none
auth service required = none
auth client required = none
ms bind msgr1 = false
ms bind msgr2 = true
ms mon client mode = crc
osd objectstore = memstore
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
paxos propose interval = 0.05
paxos min wait = 0.01
mon cluster log to file = false
run dir = ${dir}/run
crash dir = ${dir}/crash
admin socket = ${dir}/run/$name.asok
log file = ${dir}/log/$name.log
pid file = ${dir}/run/$name.pid
mon data = ${dir}/mon/$id
osd data = ${dir}/osd/$id
rgw data = ${dir}/rgw
`;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-5).join("\n");
    throw new Error(`${cmd} ${args.slice(0, 4).join(" ")} failed (exit ${out.code}): ${err}`);
  }
  return new TextDecoder().decode(out.stdout);
}

async function rssOf(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
  const kb = status.match(/^VmRSS:\s+(\d+)\s+kB/m)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

/** Whether the Ceph daemons are installed (scripts/test.sh installs them; tests fail without). */
export async function cephInstalled(): Promise<boolean> {
  for (const bin of ["ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool"]) {
    if (!(await Deno.stat(`/usr/bin/${bin}`).catch(() => null))) return false;
  }
  return true;
}

/**
 * Starts a cluster in a new temporary directory and makes one S3 user.
 * @example
 * ```ts
 * await using ceph = await startCeph();
 * console.log(ceph.endpoint, ceph.accessKeyId);
 * ```
 */
export async function startCeph(options: StartCephOptions = {}): Promise<Ceph> {
  const started = performance.now();
  const dir = await Deno.makeTempDir({ prefix: "cis490-ceph-" });
  for (const d of ["run", "log", "crash", "mon", "osd/0", "rgw"]) {
    await Deno.mkdir(join(dir, d), { recursive: true });
  }
  const conf = join(dir, "ceph.conf");
  const fsid = crypto.randomUUID();
  const monPort = freePort();
  const s3Port = freePort();
  await Deno.writeTextFile(conf, configText(dir, fsid, monPort) + (options.extraConfig ?? ""));
  const children: { name: string; child: Deno.ChildProcess; exited: boolean }[] = [];
  const spawn = (name: string, cmd: string, args: string[]) => {
    const child = new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).spawn();
    const entry = { name, child, exited: false };
    child.status.then(() => (entry.exited = true));
    children.push(entry);
  };
  const stop = async () => {
    // The gateway first, the monitor last: each later one only waits for the earlier ones.
    for (const { child } of [...children].reverse()) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
    }
    children.length = 0;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const logTail = async (name: string) =>
    (await Deno.readTextFile(join(dir, "log", `${name}.log`)).catch(() => ""))
      .trim().split("\n").slice(-5).join("\n");

  try {
    const monmap = join(dir, "monmap");
    await run("monmaptool", [
      "--create",
      "--fsid",
      fsid,
      "--addv",
      "a",
      `[v2:127.0.0.1:${monPort}]`,
      monmap,
    ]);
    await run("ceph-mon", ["-c", conf, "--mkfs", "-i", "a", "--monmap", monmap]);
    spawn("mon.a", "ceph-mon", ["-c", conf, "-i", "a", "-f"]);
    // Blocks until the monitor answers: the monitor's readiness, without a guessed wait.
    const osdUuid = crypto.randomUUID();
    const osdId = (await run("ceph", ["-c", conf, "osd", "new", osdUuid])).trim();
    await run("ceph-osd", ["-c", conf, "-i", osdId, "--mkfs", "--osd-uuid", osdUuid]);
    spawn(`osd.${osdId}`, "ceph-osd", ["-c", conf, "-i", osdId, "-f"]);
    const frontend = options.tls
      ? `beast ssl_endpoint=127.0.0.1:${s3Port} ssl_certificate=${options.tls.cert} ` +
        `ssl_private_key=${options.tls.key}`
      : `beast endpoint=127.0.0.1:${s3Port}`;
    spawn("client.rgw", "radosgw", [
      "-c",
      conf,
      "-n",
      "client.rgw",
      "-f",
      "--rgw-frontends",
      frontend,
    ]);
    await waitForGateway(s3Port, children, logTail);
    const ceph: Ceph = {
      endpoint: `${options.tls ? "https" : "http"}://127.0.0.1:${s3Port}`,
      accessKeyId: "",
      secretAccessKey: "",
      ...(options.tls && { caFile: options.tls.ca }),
      dir,
      pids: children.map((c) => c.child.pid),
      startMs: 0,
      requests: async () =>
        [
          ...(await Deno.readTextFile(join(dir, "log", "client.rgw.log")).catch(() => ""))
            .matchAll(/ beast: \S+ .*?"(\S+) (\S+) HTTP\/[\d.]+" (\d+) /g),
        ].map((m) => `${m[1]} ${m[2]} ${m[3]}`),
      rssBytes: async () => {
        let sum = 0;
        for (const c of children) sum += await rssOf(c.child.pid);
        return sum;
      },
      admin: (args) => run("radosgw-admin", ["-c", conf, ...args]),
      async createUser(uid) {
        const out = JSON.parse(
          await ceph.admin(["user", "create", `--uid=${uid}`, `--display-name=${uid}`]),
        ) as { keys: { access_key: string; secret_key: string }[] };
        const key = out.keys[0];
        if (!key) throw new Error(`radosgw-admin made user "${uid}" without keys`);
        return { accessKeyId: key.access_key, secretAccessKey: key.secret_key };
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
    const user = await ceph.createUser("cis490-test");
    ceph.accessKeyId = user.accessKeyId;
    ceph.secretAccessKey = user.secretAccessKey;
    ceph.startMs = performance.now() - started;
    return ceph;
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Polls the gateway's port until it answers, failing at once if a daemon exits. */
async function waitForGateway(
  port: number,
  children: { name: string; exited: boolean }[],
  logTail: (name: string) => Promise<string>,
): Promise<void> {
  const start = Date.now();
  for (;;) {
    const dead = children.find((c) => c.exited);
    if (dead) throw new Error(`${dead.name} exited during start: ${await logTail(dead.name)}`);
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      if (Date.now() - start > HANG_GUARD_MS) {
        throw new Error(`radosgw never listened on ${port}: ${await logTail("client.rgw")}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/**
 * Writes the config of a reference collector that stores into `bucket` (under `collected/`), with
 * the cluster user's keys in files beside it, into `dir`; returns the config's path.
 */
export async function writeBucketCollectorConfig(
  dir: string,
  tls: { serverCert: string; serverKey: string; ca: string },
  ceph: Ceph,
  bucket: string,
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const id = join(dir, "access-key-id");
  const secret = join(dir, "secret-access-key");
  await Deno.writeTextFile(id, ceph.accessKeyId + "\n");
  await Deno.writeTextFile(secret, ceph.secretAccessKey + "\n", { mode: 0o600 });
  const config = join(dir, "collector.toml");
  await Deno.writeTextFile(
    config,
    [
      'listen = "127.0.0.1:0"',
      "[storage]",
      'backend = "s3"',
      `url = "${ceph.endpoint}"`,
      `bucket = "${bucket}"`,
      'key_prefix = "collected"',
      `access_key_id_file = "${id}"`,
      `secret_access_key_file = "${secret}"`,
      "[tls]",
      `cert = "${tls.serverCert}"`,
      `key = "${tls.serverKey}"`,
      `client_ca = "${tls.ca}"`,
      "",
    ].join("\n"),
  );
  return config;
}
