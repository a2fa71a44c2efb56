// The console's news about proposals: Rust emits `gatehouse:proposals` when a profile's proposals may have
// changed, saying whether the server's events reach it. The one place that listens, so tests can stand in.
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

export const PROPOSALS_EVENT = "gatehouse:proposals";

/** The event's payload (Rust's `ProposalsChanged`). */
export type ProposalsChanged = { profile: string; live: boolean };

/** Calls `handler` on every change until the function the promise gives is called. */
export function onProposalsChanged(handler: (change: ProposalsChanged) => void): Promise<UnlistenFn> {
  return listen<ProposalsChanged>(PROPOSALS_EVENT, (event) => handler(event.payload));
}
