/**
 * cis490-ship: ships finished experiment episodes from a lab host to the collector over mutual
 * TLS. The only place the process exits.
 */
import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
