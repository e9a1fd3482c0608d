/**
 * # The queue
 *
 * Takes each complete episode in `<data_root>/episodes/` to `shipped/` or `quarantine/`, through
 * `outbox/` and a receiver (the collector, or an object store), surviving `kill -9` and power
 * loss at any instant. Read the invariants first: every file here exists to keep one of them,
 * the tests name them by number, and the simulator (`src/sim/`) checks them after every step of
 * 100,000 random histories.
 *
 * ## Invariants
 *
 * 1. **One place.** Every episode directory is in exactly one of `episodes/`, `shipped/` and
 *    `quarantine/` at every instant. Each move is one `rename(2)` inside `data_root`, inside the
 *    exclusive moves section, and never overwrites: a taken name gets `<id>.2`, `<id>.3`, …
 *    (`moves.ts`).
 * 2. **Answered once.** Once the receiver has answered about an episode (stored, already there,
 *    refused), the answer is recorded in the episode's outbox state, fsynced, before anything
 *    moves; from then on that episode is never sent again, by this process even when the disk
 *    refused the record (`outbox.ts` keeps it in memory), and by any later process.
 * 3. **Decide, record, then move.** A quarantine is recorded in the shipper's own outbox state,
 *    with the name it will take in `quarantine/`, before the episode moves; its reason file is
 *    written after the move, and recovery writes it if a crash came between. The producer's
 *    directory is never written to.
 * 4. **Durable before forgotten.** An episode's outbox state is removed only once the
 *    directories its move touched are synced: a power loss can undo a move, never the record
 *    that finishes it (`pass.ts`).
 * 5. **Only the episode's fault quarantines it.** An episode is quarantined for what is wrong
 *    with it alone: preflight (its id, `meta.json`, size or tree), a refusal of this episode by
 *    the receiver, the receiver holding other bytes under its id, or one local failure repeated
 *    {@linkcode LOCAL_FAILURE_LIMIT} times. An answer about the host (credentials, address,
 *    clock, an outage, a body the receiver found damaged) never quarantines (`decide.ts`).
 * 6. **One probe.** While the host is paused, or not yet proven in this process, at most one
 *    request is in flight; a paused host sends at most one request per backoff step
 *    (`admission.ts`, `gate.ts`).
 * 7. **One owner of `outbox/`.** Every state write and delete goes through the outbox, with its
 *    transition's durability (`outbox.ts` `DURABILITY`). A tarball in `outbox/` always has the
 *    state that describes it; one packed earlier is verified against its recorded digest before
 *    it is sent again, and a damaged one is packed afresh, never resent (`prepare.ts`).
 * 8. **Recovery once.** Recovery runs once, at the start of a pass, before anything is decided:
 *    partial writes go, files of episodes no longer in `episodes/` go, quarantines a crash cut
 *    short get their reason file (`Outbox.recover`).
 * 9. **Nothing secret written.** Configured secrets are scrubbed from every answer before it is
 *    recorded, logged or written into a reason file.
 *
 * ## Where each effect lives
 *
 * | effect | file |
 * |---|---|
 * | the next step of an episode (pure) | `planner.ts` |
 * | what an answer means (pure) | `decide.ts` |
 * | every new outbox state (pure) | `transitions.ts` |
 * | the host gate (pure) and its single probe | `gate.ts`, `admission.ts` |
 * | state writes, tarball commits, recovery | `outbox.ts` |
 * | moves between the folders | `moves.ts` |
 * | counters, summary, outcome log lines | `tally.ts` |
 * | one episode's turn: the planned step, local failures | `runner.ts` (`runner_context.ts`) |
 * | preflight, pack, verify a packed tarball | `prepare.ts` |
 * | one request and its answer applied | `send.ts` |
 * | the move of a decided episode | `finish.ts` |
 * | one pass | `pass.ts` |
 * | passes on a schedule, reload, stop | `service.ts` |
 * | everything outside (fs, episodes, packer, receiver, lock, clock) | `world.ts` |
 * | the operator's moves: `requeue`, `quarantine-unstamped` | `requeue.ts`, `drain.ts` |
 *
 * The operator commands take the same outside as options (`fs`, `lock`, `requireOwner`; `prune`
 * its tree walk, `status` its episode reader and lock-holder probe), Deno's by default, so the
 * simulator runs them interleaved with passes over one simulated disk.
 *
 * ## On disk
 *
 * `outbox/<id>.state.json` ({@linkcode EpisodeState}) beside `outbox/<id>.tar.gz|.tar.zst|.tar`;
 * the rest of the layout is `src/layout.ts`.
 *
 * @module
 */
import { LOCAL_FAILURE_LIMIT } from "./transitions.ts";
import type { EpisodeState } from "./state.ts";

export { newMemory, runPass } from "./pass.ts";
export type { PassOptions, PassSummary, QueueMemory } from "./pass.ts";
export { Service } from "./service.ts";
export type { ServiceOptions } from "./service.ts";
export { LOCAL_FAILURE_LIMIT };
export type { EpisodeState };
export type { QueueWorld } from "./world.ts";
