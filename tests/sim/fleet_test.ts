/** The fleet simulation (sim/fleet.ts): the queue's own gate and backoff, many hosts, one collector. */
import { assert, assertEquals } from "../support/assert.ts";
import { type FleetScenario, simulateFleet } from "../../sim/fleet.ts";

const base: FleetScenario = {
  label: "test",
  hosts: 1000,
  capacityPerS: 40,
  outageS: 3600,
  backoffSeconds: [1, 2, 4, 8, 16, 32, 60, 120, 300],
  scanIntervalS: 5,
  concurrency: 2,
  episodeEveryS: 600,
  afterS: 4 * 3600,
  seed: 3,
};

Deno.test("simulateFleet() probes once per backoff step per host during an outage, then drains everything", () => {
  const r = simulateFleet(base);
  // Each host's steps over an hour: 1+2+…+120 s, then one per 300 s (±20%): under 30 probes.
  assert(r.requestsDuringOutage <= base.hosts * 30, `${r.requestsDuringOutage} requests`);
  assert(r.requestsDuringOutage >= base.hosts * 10, "every host kept probing");
  assert(r.drainS !== null, "the backlog drained");
  assert(r.longestWaitS >= base.outageS, "an episode from the outage's start waited it out");
});

Deno.test("simulateFleet() is the same for the same seed, and a longer last step softens the rush back", () => {
  assertEquals(simulateFleet(base), simulateFleet(base));
  const longer = simulateFleet({ ...base, backoffSeconds: [...base.backoffSeconds, 600] });
  const today = simulateFleet(base);
  assert(longer.requestsDuringOutage < today.requestsDuringOutage);
  assert(longer.peakAfter < today.peakAfter, `${longer.peakAfter} vs ${today.peakAfter}`);
});
