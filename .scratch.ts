import { makeStage } from "./tests/install/stage.ts";
const s = await makeStage();
const r = await s.run(["--root", s.root, "--binary", s.binary]);
console.log(r.code, r.stdout, r.stderr, r.calls);
const p = new Deno.Command("find", { args: [s.root, "-printf", "%M %p\n"] }).outputSync();
console.log(new TextDecoder().decode(p.stdout));
const r2 = await s.run(["--root", s.root, "--binary", s.binary]);
console.log(r2.code, r2.stdout, r2.stderr, r2.calls);
await s[Symbol.asyncDispose]();
