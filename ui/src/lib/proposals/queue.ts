// The approvals queue, grouped the way an officer works through it: what waits for me first,
// then what waits for others, then what is settled.
//
// The shapes mirror `gatehouse_protocol::proposal` as the server sends them (snake_case
// fields). Once the proposal commands are in the generated bindings, import those types
// instead of these.

export type ProposalStatus = "open" | "executed" | "failed" | "expired" | "cancelled" | "rejected";

export interface QueueProposal {
  id: string;
  kind: "token-create" | "mint";
  status: ProposalStatus;
  proposer: string;
  deadline: string;
  threshold: number;
  eligible: string[];
  approvals: { officer: string }[];
  rejections: { officer: string }[];
  payload: QueuePayload;
}

export type QueuePayload =
  | { kind: "mint"; token: string; metadata: string[] }
  | {
      kind: "token-create";
      name: string;
      symbol: string;
      max_supply: number;
      treasury: string;
      officers: string[];
      threshold: number;
      responders: string[];
    };

export interface Queue<P extends QueueProposal> {
  /** Open, I may sign, I did not propose it, and I have neither signed nor rejected it. */
  mine: P[];
  /** Open, but nothing for me to do. */
  others: P[];
  /** Settled: executed, failed, expired, cancelled or rejected. */
  history: P[];
}

/** Whether `me` can still sign `p`. */
export function waitsFor<P extends QueueProposal>(p: P, me: string): boolean {
  return (
    p.status === "open" &&
    p.proposer !== me &&
    p.eligible.includes(me) &&
    !p.approvals.some((a) => a.officer === me) &&
    !p.rejections.some((r) => r.officer === me)
  );
}

/** Groups proposals; open ones by nearest deadline first, history newest deadline first. */
export function groupQueue<P extends QueueProposal>(proposals: readonly P[], me: string): Queue<P> {
  const byDeadline = (a: P, b: P) => Date.parse(a.deadline) - Date.parse(b.deadline);
  const open = proposals.filter((p) => p.status === "open").sort(byDeadline);
  return {
    mine: open.filter((p) => waitsFor(p, me)),
    others: open.filter((p) => !waitsFor(p, me)),
    history: proposals.filter((p) => p.status !== "open").sort((a, b) => byDeadline(b, a)),
  };
}

/** One line for a queue row: what the proposal does, from its payload. */
export function summary(p: QueueProposal): string {
  const pl = p.payload;
  if (pl.kind === "mint") {
    const n = pl.metadata.length;
    return `Mint ${n} NFT${n === 1 ? "" : "s"} of ${pl.token}`;
  }
  return `Create ${pl.name} (${pl.symbol}), at most ${pl.max_supply}, ${pl.threshold} of ${pl.officers.length} officers`;
}

/** Approvals so far against the threshold, as a row shows them: "1/2". */
export function progress(p: QueueProposal): string {
  return `${p.approvals.length}/${p.threshold}`;
}
