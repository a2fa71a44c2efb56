// What the breaker banner says, apart from how it looks.
import type { BreakerView } from "../../bindings";

/** Longest pause reason the ledger memo carries, in bytes of UTF-8 (the server cuts longer ones). */
export const MAX_REASON_BYTES = 60;

/** Whether `reason` travels whole. */
export function reasonFits(reason: string): boolean {
  return new TextEncoder().encode(reason.trim()).length <= MAX_REASON_BYTES;
}

/** The ledger's side, apart from the breaker: what it answered to the pause, and what the mirror shows now. */
export function ledgerLine(b: BreakerView): string {
  const answer =
    b.ledgerStatus === null ? "not answered yet" : b.ledgerStatus === "SUCCESS" ? "accepted" : b.ledgerStatus;
  const mirror =
    b.ledgerPaused === null ? "cannot be read" : b.ledgerPaused ? "shows the token PAUSED" : "shows the token NOT paused";
  return `Ledger: pause ${answer}; the mirror ${mirror}`;
}
