/**
 * `deno task simulate --mutants`: removes one guard of the queue at a time, on purpose, in a
 * copy of the source, and runs seeded histories until the simulator catches it. Prints, for each
 * guard, the first seed that broke an invariant, what it broke, and how many histories it took
 * (docs/simulation.md keeps the table). A guard the simulator cannot catch within the budget is
 * reported as such, never hidden.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** One guard removed on purpose: a textual patch of one source file. */
export interface Mutant {
  guard: string;
  file: string;
  find: string;
  replace: string;
}

/** The guards. Each `find` must occur exactly once in its file. */
export const MUTANTS: readonly Mutant[] = [
  {
    guard: "the answer recorded before the move (invariant 2)",
    file: "src/queue/send.ts",
    find: 'await outbox.write("answered", next);',
    replace: "/* answer not recorded */",
  },
  {
    guard: "the record written atomically (a torn state on a crash)",
    file: "src/queue/outbox.ts",
    find:
      "    await writeFileAtomic(this.layout.statePath(state.episode_id), formatState(state), {",
    replace:
      "    await this.#fs.remove(this.layout.statePath(state.episode_id)).catch(() => {});\n" +
      "    await this.#fs.writeNew(this.layout.statePath(state.episode_id), new Uint8Array(0), { mode: 0o640, sync: false });\n" +
      "    await this.#fs.remove(this.layout.statePath(state.episode_id)).catch(() => {});\n" +
      "    await writeFileAtomic(this.layout.statePath(state.episode_id), formatState(state), {",
  },
  {
    guard: "the fsync of every record (power loss)",
    file: "src/fs/atomic.ts",
    find: 'sync: durability !== "process"',
    replace: "sync: false",
  },
  {
    guard: "precious states never rewritten lighter (power loss)",
    file: "src/queue/outbox.ts",
    find: '  return precious ? "full" : DURABILITY[transition];',
    replace: "  return precious ? DURABILITY[transition] : DURABILITY[transition];",
  },
  {
    guard: "quarantine never overwrites (no-clobber)",
    file: "src/queue/moves.ts",
    find: "        name = await freeNameIn(fs, layout.quarantine, basename(dir));",
    replace: "        name = basename(dir);\n" +
      "        await fs.remove(join(layout.quarantine, name), { recursive: true }).catch(() => {});",
  },
  {
    guard: "host faults never quarantine (credentials)",
    file: "src/queue/decide.ts",
    find: '    case "credentials":\n    case "misconfigured":',
    replace:
      '    case "credentials":\n      return { kind: "quarantine", status: answer.status, body: "", reason: answer.said };\n    case "misconfigured":',
  },
  {
    guard: "one probe at a time (invariant 6)",
    file: "src/queue/admission.ts",
    find:
      "        this.#probe = new Promise<void>((resolve) => (release = resolve)).then(() => {\n" +
      "          this.#probe = null;\n        });",
    replace: "        release = () => {};",
  },
  {
    guard: "a state of an earlier episode under a reused id never applied",
    file: "src/queue/outbox.ts",
    find: "    const foreign = state?.episode_key !== undefined",
    replace: "    const foreign = false && state?.episode_key !== undefined",
  },
  {
    guard: "the unconfirmed mark written before the move",
    file: "src/queue/moves.ts",
    find: '      await writeFileAtomic(join(layout.unconfirmed, name), "", { fs });',
    replace: "      /* no mark */",
  },
  {
    guard: "outbox/ synced at recovery (what a crashed process left)",
    file: "src/queue/outbox.ts",
    find: "    await fs.syncDir(this.layout.outbox);\n    return result;",
    replace: "    return result;",
  },
  {
    guard: "the compression kept once packed",
    file: "src/queue/prepare.ts",
    find: "  const compression = previous?.packed?.compression ?? config.compression;",
    replace: "  const compression = config.compression;",
  },
  {
    guard: "a tarball verified before it is sent again (invariant 7)",
    file: "src/queue/prepare.ts",
    find: "  if (found.size !== state.packed.size || found.sha256 !== state.packed.sha256) {",
    replace: "  if (false) {",
  },
];

/** What one mutant run found. */
export interface MutantResult {
  guard: string;
  /** The first seed that broke an invariant, or null within the budget. */
  seed: number | null;
  /** The kept history (sim/regressions.ts) that broke an invariant first, if one did. */
  regression?: string;
  violation: string | null;
  histories: number;
}

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

async function copyTree(to: string): Promise<void> {
  for (const entry of ["src", "sim", "devkit", "deno.json", "deno.lock"]) {
    const out = await new Deno.Command("cp", { args: ["-r", join(ROOT, entry), to] }).output();
    if (!out.success) throw new Error(`cp ${entry}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Runs one mutant: seeds from 0 in batches until a violation or `budget` histories. */
export async function runMutant(mutant: Mutant, budget: number): Promise<MutantResult> {
  const dir = await Deno.makeTempDir({ prefix: "cis490-mutant-" });
  try {
    await copyTree(dir);
    const path = join(dir, mutant.file);
    const text = await Deno.readTextFile(path);
    if (text.split(mutant.find).length !== 2) {
      throw new Error(`mutant "${mutant.guard}": the text to change is not once in ${mutant.file}`);
    }
    await Deno.writeTextFile(path, text.replace(mutant.find, mutant.replace));
    const kept = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-env", join(dir, "sim", "main.ts"), "--regressions"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const caught = /regression violation: (\S+): (.*)/.exec(new TextDecoder().decode(kept.stdout));
    const regression = caught ? { regression: caught[1]! } : {};
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        join(dir, "sim", "main.ts"),
        "--first",
        "--count",
        String(budget),
      ],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const found = /first violation: seed (\d+) after (\d+) histories: (.*)/.exec(stdout);
    if (found) {
      return {
        guard: mutant.guard,
        seed: Number(found[1]),
        histories: Number(found[2]),
        violation: found[3]!,
        ...regression,
      };
    }
    const ran = /(\d+) histories in/.exec(stdout);
    if (!ran) {
      throw new Error(
        `mutant "${mutant.guard}": ${stdout}\n${new TextDecoder().decode(out.stderr)}`,
      );
    }
    return {
      guard: mutant.guard,
      seed: null,
      violation: caught ? caught[2]! : null,
      histories: Number(ran[1]),
      ...regression,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The markdown table of results. */
export function mutantTable(results: readonly MutantResult[]): string[] {
  return [
    "| guard removed | kept history that catches it | first seed that catches it | what broke |",
    "|---|---|---|---|",
    ...results.map((r) =>
      `| ${r.guard} | ${r.regression ?? "—"} | ${
        r.seed ?? `none of ${r.histories.toLocaleString("en")}`
      } | ${(r.violation ?? "—").replaceAll("|", "\\|").slice(0, 140)} |`
    ),
  ];
}
