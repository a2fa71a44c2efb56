// The approvals queue, grouped the way an officer works through it: what waits for me first,
// then what waits for others, then what is settled. Whether a proposal waits for me is Rust's
// answer (`waitsForMe`, or `newKey.waitsForMe` for a new key's own signature), not worked out again here.
import type { ProposalKind, ProposalStatus, ProposalSummary } from "../../bindings";

export interface Queue {
  /** Open, and I may approve it or my new key must sign it. */
  mine: ProposalSummary[];
  /** Open, but nothing for me to do. */
  others: ProposalSummary[];
  /** Settled: executed, failed, expired, cancelled or rejected. */
  history: ProposalSummary[];
}

/** Whether I can still do something for `p`: approve it, or sign it with my new key. */
export function waitsForMe(p: ProposalSummary): boolean {
  return p.waitsForMe || p.newKey?.waitsForMe === true;
}

/** Groups proposals; open ones by nearest deadline first, history newest deadline first. */
export function groupQueue(proposals: readonly ProposalSummary[]): Queue {
  const byDeadline = (a: ProposalSummary, b: ProposalSummary) => Date.parse(a.deadline) - Date.parse(b.deadline);
  const open = proposals.filter((p) => p.status === "open").sort(byDeadline);
  return {
    mine: open.filter(waitsForMe),
    others: open.filter((p) => !waitsForMe(p)),
    history: proposals.filter((p) => p.status !== "open").sort((a, b) => byDeadline(b, a)),
  };
}

/** One line for a queue row: what the proposal does, from its payload. */
export function summary(p: ProposalSummary): string {
  const pl = p.payload;
  if (pl.kind === "mint") {
    const n = pl.metadata.length;
    return `Mint ${n} NFT${n === 1 ? "" : "s"} of ${pl.token}`;
  }
  if (pl.kind === "policy") {
    return `Change the approval policy of ${pl.token} (replaces version ${pl.replaces})`;
  }
  if (pl.kind === "resume") {
    return `Resume ${pl.token} after ${pl.pausedBy ?? "a responder"}'s pause: ${pl.reason}`;
  }
  if (pl.kind === "rotation") {
    return `Rotate the ${pl.role} key of ${pl.token}: ${pl.now} → ${pl.after}`;
  }
  if (pl.kind === "offboarding") {
    return `Offboard ${pl.officer} from every key of ${pl.token}: ${pl.reason}`;
  }
  if (pl.kind === "unknown") {
    return "A kind of proposal this console does not know: update Gatehouse to review it";
  }
  if (pl.kind === "onboarding") {
    const certificate = pl.certificate ? ", with a new certificate from their device" : "";
    return `Onboard ${pl.officer} into the ${pl.keys.join(", ")} key(s) of ${pl.token}${certificate}: ${pl.reason}`;
  }
  return `Create ${pl.name} (${pl.symbol}), at most ${pl.maxSupply}, ${pl.threshold} of ${pl.officers.length} officers`;
}

/** Approvals so far against the threshold, as a row shows them: "1/2". */
export function progress(p: ProposalSummary): string {
  return `${p.approvals.length}/${p.threshold}`;
}

export const KIND_LABELS: Record<ProposalKind, string> = {
  mint: "Mint",
  "token-create": "Token creation",
  policy: "Policy change",
  resume: "Resume",
  rotation: "Key rotation",
  offboarding: "Offboarding",
  onboarding: "Onboarding",
  unknown: "Unknown kind",
};

export const STATUS_LABELS: Record<ProposalStatus, string> = {
  open: "Open",
  executed: "Executed",
  failed: "Failed",
  expired: "Expired",
  cancelled: "Cancelled",
  rejected: "Rejected",
};
