import { describe, expect, it } from "vitest";
import { groupQueue, progress, type QueueProposal, summary, waitsFor } from "./queue";

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
    payload: { kind: "mint", token: "0.0.1001", metadata: ["ipfs://a"] },
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

describe("row text", () => {
  it("summarises a mint by count and token", () => {
    expect(summary(proposal({ id: "m" }))).toBe("Mint 1 NFT of 0.0.1001");
    const two = proposal({
      id: "m2",
      payload: { kind: "mint", token: "0.0.7", metadata: ["a", "b"] },
    });
    expect(summary(two)).toBe("Mint 2 NFTs of 0.0.7");
  });

  it("summarises a token creation by name, supply and threshold", () => {
    const create = proposal({
      id: "c",
      kind: "token-create",
      payload: {
        kind: "token-create",
        name: "Deeds",
        symbol: "DEED",
        max_supply: 100,
        treasury: "0.0.2",
        officers: ["alice", "bob", "carol"],
        threshold: 2,
        responders: [],
      },
    });
    expect(summary(create)).toBe("Create Deeds (DEED), at most 100, 2 of 3 officers");
  });

  it("shows approvals against the threshold", () => {
    expect(progress(proposal({ id: "p", approvals: [{ officer: "carol" }] }))).toBe("1/2");
  });
});
