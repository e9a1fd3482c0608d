/**
 * nginx as a collector nobody here wrote: TLS with `ssl_verify_client on`, `dav_methods PUT`,
 * logging each request's framing headers so tests can check them.
 */
import { join } from "node:path";
import type { Pki } from "./pki.ts";

/** A running nginx. */
export interface Nginx extends AsyncDisposable {
  url: string;
  /** Where PUT bodies land: `<root>/v1/episodes/<host>/<id>.tar.gz`. */
  root: string;
  /**
   * Access log lines: `method uri status content_length transfer_encoding digest ssl_client_s_dn
   * connection connection_requests` (the last two tell which requests shared a connection).
   */
  log(): Promise<string[]>;
  /** `nginx -s reload`, as an operator runs it: idle kept-alive connections are closed. */
  reload(): Promise<void>;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Starts nginx in `dir` in the foreground; stop with `await using`. `locations` adds config. */
export async function startNginx(dir: string, pki: Pki, locations = ""): Promise<Nginx> {
  const root = join(dir, "www");
  await Deno.mkdir(join(dir, "logs"), { recursive: true });
  await Deno.mkdir(join(dir, "tmp"), { recursive: true });
  await Deno.mkdir(root, { recursive: true });
  // Workers run as an unprivileged user when nginx starts as root: let them reach and write here
  // (the test's temporary parent directory is private by default).
  await Deno.chmod(join(dir, ".."), 0o755);
  for (const d of [dir, root, join(dir, "tmp")]) await Deno.chmod(d, 0o777);
  const port = freePort();
  const conf = join(dir, "nginx.conf");
  await Deno.writeTextFile(
    conf,
    `worker_processes 1;
daemon off;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "logs", "error.log")} warn;
events { worker_connections 64; }
http {
  log_format framing '$request_method $uri $status "$http_content_length" "$http_transfer_encoding" "$http_content_digest" "$ssl_client_s_dn" $connection $connection_requests';
  access_log ${join(dir, "logs", "access.log")} framing;
  client_body_temp_path ${join(dir, "tmp")};
  client_max_body_size 1g;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${pki.serverCert};
    ssl_certificate_key ${pki.serverKey};
    ssl_client_certificate ${pki.ca};
    ssl_verify_client on;
    root ${root};
    ${locations}
    location /v1/episodes/ {
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }
  }
}
`,
  );
  const { child, stderr } = await spawnNginx(dir, conf, join(dir, "logs", "error.log"), port);
  return {
    url: `https://127.0.0.1:${port}`,
    root,
    log: async () => (await Deno.readTextFile(join(dir, "logs", "access.log"))).trim().split("\n"),
    async reload() {
      const out = await new Deno.Command("nginx", {
        args: ["-p", dir, "-c", conf, "-e", join(dir, "logs", "error.log"), "-s", "reload"],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!out.success) throw new Error(`nginx -s reload: ${new TextDecoder().decode(out.stderr)}`);
    },
    async [Symbol.asyncDispose]() {
      child.kill("SIGQUIT");
      await child.status;
      await stderr;
    },
  };
}

/**
 * Starts nginx in the foreground of `dir` with `conf`; ready when `port` accepts connections. An
 * nginx that exits instead fails at once with its stderr.
 */
async function spawnNginx(
  dir: string,
  conf: string,
  errorLog: string,
  port: number,
): Promise<{ child: Deno.ChildProcess; stderr: Promise<string> }> {
  const child = new Deno.Command("nginx", {
    args: ["-p", dir, "-c", conf, "-e", errorLog],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let exited = false;
  child.status.then(() => (exited = true));
  for (;;) {
    if (exited) throw new Error(`nginx did not start: ${(await stderr).trim()}`);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port }).catch(() => null);
    if (conn) {
      conn.close();
      return { child, stderr };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether nginx is installed (`.ci/run` installs it; without it the test fails, never skips). */
export async function nginxPath(): Promise<string | null> {
  for (const p of ["/usr/sbin/nginx", "/usr/bin/nginx"]) {
    if (await Deno.stat(p).catch(() => null)) return p;
  }
  return null;
}

/** Where Debian's nginx keeps its stream module (package libnginx-mod-stream). */
export const STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";

/** A running nginx load balancer (stream module): TLS passes through to the upstreams. */
export interface NginxBalancer extends AsyncDisposable {
  /** `https://127.0.0.1:PORT`: the one address shippers use. */
  url: string;
  /** Its error log (an upstream it could not reach is named there). */
  errors(): Promise<string>;
}

/**
 * Starts nginx as a TCP load balancer in `dir` in front of `upstreams` (`127.0.0.1:PORT`, round
 * robin per connection; a connection refused goes to the next). TLS is not terminated, so each
 * collector still sees the shipper's own client certificate and binds it to the host id.
 */
export async function startNginxBalancer(
  dir: string,
  upstreams: readonly string[],
): Promise<NginxBalancer> {
  await Deno.mkdir(join(dir, "logs"), { recursive: true });
  const port = freePort();
  const conf = join(dir, "nginx.conf");
  const errorLog = join(dir, "logs", "error.log");
  await Deno.writeTextFile(
    conf,
    `load_module ${STREAM_MODULE};
worker_processes 1;
daemon off;
pid ${join(dir, "nginx.pid")};
error_log ${errorLog} warn;
events { worker_connections 256; }
stream {
  upstream collectors {
${upstreams.map((u) => `    server ${u} max_fails=1 fail_timeout=600s;`).join("\n")}
  }
  server {
    listen 127.0.0.1:${port};
    proxy_pass collectors;
    proxy_connect_timeout 5s;
    proxy_next_upstream on;
  }
}
`,
  );
  const { child, stderr } = await spawnNginx(dir, conf, errorLog, port);
  return {
    url: `https://127.0.0.1:${port}`,
    errors: () => Deno.readTextFile(errorLog).catch(() => ""),
    async [Symbol.asyncDispose]() {
      child.kill("SIGQUIT");
      await child.status;
      await stderr;
    },
  };
}
