import { describe, expect, it } from "vitest";
import { groupQueue, type QueueProposal, waitsFor } from "./queue";

function proposal(over: Partial<QueueProposal> & { id: string }): QueueProposal {
  return {
    kind: "mint",
    status: "open",
    proposer: "alice",
    deadline: "2026-12-05T10:00:00Z",
    threshold: 2,
    eligible: ["alice", "bob", "carol"],
    approvals: [],
    rejections: [],
    ...over,
  };
}

describe("groupQueue", () => {
  const list = [
    proposal({ id: "later", deadline: "2026-12-06T10:00:00Z" }),
    proposal({ id: "sooner" }),
    proposal({ id: "mine-proposed", proposer: "bob" }),
    proposal({ id: "signed", approvals: [{ officer: "bob" }] }),
    proposal({ id: "rejected-by-me", rejections: [{ officer: "bob" }] }),
    proposal({ id: "not-eligible", eligible: ["alice", "carol"] }),
    proposal({ id: "old", status: "executed", deadline: "2026-12-01T10:00:00Z" }),
    proposal({ id: "newer", status: "expired", deadline: "2026-12-02T10:00:00Z" }),
  ];

  it("puts what bob can still sign first, nearest deadline first", () => {
    const q = groupQueue(list, "bob");
    expect(q.mine.map((p) => p.id)).toEqual(["sooner", "later"]);
  });

  it("keeps open proposals bob cannot act on under waiting for others", () => {
    const q = groupQueue(list, "bob");
    expect(q.others.map((p) => p.id).sort()).toEqual(
      ["mine-proposed", "not-eligible", "rejected-by-me", "signed"].sort(),
    );
  });

  it("lists settled proposals newest first", () => {
    expect(groupQueue(list, "bob").history.map((p) => p.id)).toEqual(["newer", "old"]);
  });

  it("never asks a proposer to approve their own proposal", () => {
    expect(waitsFor(proposal({ id: "x" }), "alice")).toBe(false);
  });

  it("never asks anyone to sign a settled proposal", () => {
    expect(waitsFor(proposal({ id: "x", status: "cancelled" }), "bob")).toBe(false);
  });
});
