// A stand-in for `lib/proposals/events` in unit tests: the test emits what Rust would.
// Use it with `vi.mock("<path>/lib/proposals/events", () => import("<path>/testing/mock-proposal-events"))`.
import type { ProposalsChanged } from "../lib/proposals/events";

type Handler = (change: ProposalsChanged) => void;

/** The handlers listening now. */
export const listeners = new Set<Handler>();

/** Set `unavailable` to make listening fail, as it does without the Tauri event system. */
export const events = { unavailable: false };

export async function onProposalsChanged(handler: Handler): Promise<() => void> {
  if (events.unavailable) throw new Error("event.listen not allowed");
  listeners.add(handler);
  return () => listeners.delete(handler);
}

/** What Rust's `app.emit("gatehouse:proposals", …)` would deliver. */
export function emitProposalsChanged(change: ProposalsChanged): void {
  for (const handler of [...listeners]) handler(change);
}
