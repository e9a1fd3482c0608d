import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  buildArgs,
  isMissingRuntime,
  missingRuntimeMessage,
  parseBuildArgs,
  ROOT,
  TARGETS,
  writeBuildOverlay,
} from "../../scripts/build.ts";
import { cliCommand, MAIN } from "../../devkit/cli.ts";
import { tempDir } from "../../devkit/fixtures.ts";
import { PERMISSION_FLAGS } from "../../src/permissions.ts";
import { formatVersionLine, readGitCommit, VERSION } from "../../src/version.ts";

Deno.test("buildArgs() bakes in exactly the permission flags the CLI tests run under", () => {
  const build = buildArgs("out", undefined, "map.json");
  const baked = (a: string) =>
    a.startsWith("--allow-") || a.startsWith("--deny-") || a.startsWith("--v8-flags") ||
    a === "--no-code-cache";
  const flags = build.filter(baked);
  assertEquals(flags, [...PERMISSION_FLAGS]);
  const test = cliCommand(["--once"]);
  assertEquals(test.filter(baked), flags);
  assertEquals(build.at(-1), "main.ts");
  assertEquals(test.includes(MAIN), true);
  assertEquals(flags.includes("--allow-all") || flags.includes("-A"), false);
  assertEquals(flags.some((f) => f.startsWith("--allow-ffi")), false);
  // The one program it may run, by absolute path (src/queue/non_utf8.ts).
  assertEquals(flags.filter((f) => f.startsWith("--allow-run")), ["--allow-run=/usr/bin/find"]);
});

Deno.test("parseBuildArgs() builds the host by default and named targets or all beside it", () => {
  assertEquals(parseBuildArgs([]), [{ output: "dist/cis490-ship" }]);
  assertEquals(parseBuildArgs(["aarch64-unknown-linux-gnu"]), [
    { target: "aarch64-unknown-linux-gnu", output: "dist/cis490-ship-aarch64-unknown-linux-gnu" },
  ]);
  assertEquals(parseBuildArgs(["all"]).map((j) => j.target), [...TARGETS]);
  let error: unknown;
  try {
    parseBuildArgs(["x86_64-pc-windows-msvc"]);
  } catch (e) {
    error = e;
  }
  assert(error instanceof TypeError);
  assertMatch(error.message, /Unknown target "x86_64-pc-windows-msvc"/);
});

Deno.test("isMissingRuntime() tells a failed denort download from other compile failures", () => {
  const offline = "error: Writing deno compile executable to temporary file 'dist/x.tmp-1'\n\n" +
    "Caused by:\n    0: Setting up base binary.\n    1: error sending request for url " +
    "(https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip): client error " +
    "(Connect): dns error: failed to lookup address information";
  assertEquals(isMissingRuntime(offline), true);
  assertEquals(isMissingRuntime("error: TS2322 [ERROR]: Type 'string' is not assignable"), false);
  assertEquals(isMissingRuntime('error: Module not found "file:///x/denort.ts"'), false);
});

Deno.test("missingRuntimeMessage() is one line naming DENORT_BIN and the runtime's URL", () => {
  const line = missingRuntimeMessage("aarch64-unknown-linux-gnu", "2.9.6");
  assertEquals(line.includes("\n"), false);
  assertMatch(line, /DENORT_BIN/);
  assertMatch(
    line,
    /https:\/\/dl\.deno\.land\/release\/v2\.9\.6\/denort-aarch64-unknown-linux-gnu\.zip/,
  );
});

Deno.test("formatVersionLine() names the commit, a modified tree, or why it is unknown", () => {
  const commit = "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d";
  const cases: [Parameters<typeof formatVersionLine>[1], string][] = [
    [{ kind: "build", info: { commit, modified: false } }, "(commit 1a2b3c4d5e6f)"],
    [{ kind: "build", info: { commit, modified: true } }, "(commit 1a2b3c4d5e6f, modified)"],
    [
      { kind: "build", info: { commit: null, modified: false } },
      "(commit unknown: built outside git)",
    ],
    [{ kind: "source", commit }, "(commit 1a2b3c4d5e6f, run from source)"],
    [{ kind: "source", commit: null }, "(commit unknown: run from source)"],
  ];
  for (const [source, tail] of cases) {
    assertEquals(formatVersionLine("0.1.0", source), `cis490-ship 0.1.0 ${tail}`);
  }
});

Deno.test("readGitCommit() follows HEAD to a loose ref, a packed ref, a detached head or a worktree", async () => {
  await using dir = await tempDir();
  const git = join(dir.path, ".git");
  const a = "a".repeat(40), b = "b".repeat(40), c = "c".repeat(40);
  await Deno.mkdir(join(git, "refs/heads"), { recursive: true });
  await Deno.writeTextFile(join(git, "HEAD"), "ref: refs/heads/main\n");
  await Deno.writeTextFile(join(git, "refs/heads/main"), `${a}\n`);
  assertEquals(readGitCommit(git), a);
  await Deno.remove(join(git, "refs/heads/main"));
  await Deno.writeTextFile(join(git, "packed-refs"), `# pack-refs\n${b} refs/heads/main\n`);
  assertEquals(readGitCommit(git), b);
  const wt = join(dir.path, "wt");
  await Deno.mkdir(join(git, "worktrees/wt"), { recursive: true });
  await Deno.writeTextFile(join(git, "worktrees/wt/HEAD"), `${c}\n`);
  await Deno.mkdir(wt);
  await Deno.writeTextFile(join(wt, ".git"), `gitdir: ${join(git, "worktrees/wt")}\n`);
  assertEquals(readGitCommit(join(wt, ".git")), c);
  assertEquals(readGitCommit(join(dir.path, "nothing")), null);
});

Deno.test("writeBuildOverlay() makes the baked commit what versionLine() prints under the build's flags", async () => {
  await using dir = await tempDir();
  const commit = "0123456789abcdef0123456789abcdef01234567";
  const map = await writeBuildOverlay(dir.path, { commit, modified: false });
  const probe = join(dir.path, "probe.ts");
  const version = new URL("../../src/version.ts", import.meta.url).href;
  await Deno.writeTextFile(
    probe,
    `import { versionLine } from "${version}";\nconsole.log(versionLine());\n`,
  );
  const run = (extra: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", ...PERMISSION_FLAGS, ...extra, probe],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
  const baked = await run(["--import-map", map]);
  assertEquals(new TextDecoder().decode(baked.stderr), "");
  assertEquals(
    new TextDecoder().decode(baked.stdout).trim(),
    `cis490-ship ${VERSION} (commit 0123456789ab)`,
  );
  const source = await run([]);
  assertMatch(
    new TextDecoder().decode(source.stdout),
    /\(commit ([0-9a-f]{12}, run from source|unknown: run from source)\)/,
  );
});

Deno.test("deno task build without its base runtime stops with one line saying how to provide one", async () => {
  // Force the offline case on any machine: a fresh DENO_DIR (no cached denort) sharing the npm
  // and remote caches, and a proxy nobody listens on.
  await using dir = await tempDir();
  const info = JSON.parse(new TextDecoder().decode(
    (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
      .output())
      .stdout,
  ));
  for (const name of ["npm", "remote"]) {
    await Deno.symlink(join(info.denoDir, name), join(dir.path, name)).catch(() => {});
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const env: Record<string, string> = {
    DENO_DIR: dir.path,
    HTTPS_PROXY: `http://127.0.0.1:${port}`,
    HTTP_PROXY: `http://127.0.0.1:${port}`,
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    NO_COLOR: "1",
  };
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      "scripts/build.ts",
      "aarch64-unknown-linux-gnu",
    ],
    cwd: ROOT,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  assertEquals(out.code, 1, stderr);
  assertEquals(stderr, missingRuntimeMessage("aarch64-unknown-linux-gnu", Deno.version.deno));
  assertEquals(new TextDecoder().decode(out.stdout), "");
  const left = await Array.fromAsync(Deno.readDir(join(ROOT, "dist"))).catch(() => []);
  assertEquals(left.filter((e) => e.name.includes("aarch64")).map((e) => e.name), []);
});
