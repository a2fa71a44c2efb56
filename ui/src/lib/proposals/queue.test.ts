import { describe, expect, it } from "vitest";

import { proposalSummary as proposal } from "../../testing/fixtures";
import { groupQueue, progress, summary } from "./queue";

describe("groupQueue", () => {
  // What Rust sends bob: `waitsForMe` is its answer, so these are what bob can still sign.
  const list = [
    proposal({ id: "later", deadline: "2099-01-03T10:00:00Z" }),
    proposal({ id: "sooner" }),
    proposal({ id: "mine-proposed", proposer: "bob", waitsForMe: false }),
    proposal({ id: "signed", waitsForMe: false }),
    proposal({ id: "not-eligible", eligible: ["alice", "carol"], waitsForMe: false }),
    proposal({ id: "old", status: "executed", deadline: "2098-12-01T10:00:00Z", waitsForMe: false }),
    proposal({ id: "newer", status: "expired", deadline: "2098-12-02T10:00:00Z", waitsForMe: false }),
  ];

  it("puts what waits for me first, nearest deadline first", () => {
    expect(groupQueue(list).mine.map((p) => p.id)).toEqual(["sooner", "later"]);
  });

  it("keeps open proposals I cannot act on under waiting for others", () => {
    expect(groupQueue(list).others.map((p) => p.id).sort()).toEqual(["mine-proposed", "not-eligible", "signed"].sort());
  });

  it("lists settled proposals newest first", () => {
    expect(groupQueue(list).history.map((p) => p.id)).toEqual(["newer", "old"]);
  });

  it("follows Rust's answer rather than guessing from the officer lists", () => {
    const eligibleButDone = proposal({ id: "x", waitsForMe: false });
    expect(groupQueue([eligibleButDone]).mine, "Rust knows bob signed it elsewhere").toEqual([]);
  });

  it("lists a rotation my new key must sign as mine, though I may not approve it", () => {
    const newKey = (waitsForMe: boolean) => ({ needed: 1, signed: [], holders: ["bob"], waitsForMe });
    const q = groupQueue([
      proposal({ id: "sign-new", proposer: "bob", waitsForMe: false, newKey: newKey(true) }),
      proposal({ id: "signed-new", proposer: "bob", waitsForMe: false, newKey: newKey(false) }),
    ]);
    expect(q.mine.map((p) => p.id)).toEqual(["sign-new"]);
    expect(q.others.map((p) => p.id)).toEqual(["signed-new"]);
  });

  it("never lists a settled proposal as waiting, whatever the flag says", () => {
    const q = groupQueue([proposal({ id: "x", status: "cancelled" })]);
    expect(q.mine).toEqual([]);
    expect(q.history.map((p) => p.id)).toEqual(["x"]);
  });
});

describe("row text", () => {
  it("summarises a mint by count and token", () => {
    expect(summary(proposal({ id: "m" }))).toBe("Mint 1 NFT of 0.0.1001");
    const two = proposal({ id: "m2", payload: { kind: "mint", token: "0.0.7", metadata: ["a", "b"] } });
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
        maxSupply: "100",
        treasury: "0.0.2",
        officers: ["alice", "bob", "carol"],
        threshold: 2,
        responders: [],
      },
    });
    expect(summary(create)).toBe("Create Deeds (DEED), at most 100, 2 of 3 officers");
    const resume = proposal({
      id: "r",
      kind: "resume",
      payload: { kind: "resume", token: "0.0.9", reason: "keys rotated", pausedBy: "carol" },
    });
    expect(summary(resume)).toBe("Resume 0.0.9 after carol's pause: keys rotated");
    const rotation = proposal({
      id: "k",
      kind: "rotation",
      payload: {
        kind: "rotation",
        token: "0.0.9",
        role: "supply",
        now: "2 of alice, bob, carol",
        after: "2 of alice (new key), bob, carol",
      },
    });
    const offboarding = proposal({
      id: "o",
      kind: "offboarding",
      payload: { kind: "offboarding", token: "0.0.9", officer: "dave", reason: "left the company" },
    });
    expect(summary(offboarding)).toBe("Offboard dave from every key of 0.0.9: left the company");
    const onboarding = proposal({
      id: "n",
      kind: "onboarding",
      payload: {
        kind: "onboarding",
        token: "0.0.9",
        officer: "hana",
        reason: "joins",
        keys: ["admin", "supply"],
        certificate: "ab12",
      },
    });
    expect(summary(onboarding)).toBe(
      "Onboard hana into the admin, supply key(s) of 0.0.9, with a new certificate from their device: joins",
    );
    const newer = proposal({ id: "u", kind: "unknown", payload: { kind: "unknown", name: "unknown" } });
    expect(summary(newer)).toBe("A kind of proposal this console does not know: update Gatehouse to review it");
    expect(summary(rotation)).toBe(
      "Rotate the supply key of 0.0.9: 2 of alice, bob, carol → 2 of alice (new key), bob, carol",
    );
  });

  it("shows approvals against the threshold", () => {
    const one = proposal({
      id: "p",
      approvals: [{ officer: "carol", at: "2099-01-01T11:00:00Z", device: null, transactionId: "0.0.2@1.0", relayed: true }],
    });
    expect(progress(one)).toBe("1/2");
  });
});
