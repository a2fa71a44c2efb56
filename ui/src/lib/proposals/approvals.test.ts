import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("../../bindings", () => import("../../testing/mock-bindings"));
vi.mock("./events", () => import("../../testing/mock-proposal-events"));

import { commands } from "../../bindings";
import { approvalsOf, detailOf, ok, proposalSummary } from "../../testing/fixtures";
import { emitProposalsChanged, events, listeners } from "../../testing/mock-proposal-events";
import { ApprovalsBoard, POLL_MS } from "./approvals.svelte";

const mocked = vi.mocked(commands);

let board: ApprovalsBoard | null = null;

async function started(live: boolean): Promise<ApprovalsBoard> {
  mocked.proposalsList.mockResolvedValue(ok(approvalsOf([proposalSummary({ id: "p1" })], { live })));
  board = new ApprovalsBoard("alice");
  await board.start();
  await vi.advanceTimersByTimeAsync(0);
  return board;
}

beforeEach(() => {
  vi.useFakeTimers();
  listeners.clear();
  events.unavailable = false;
});

afterEach(() => {
  board?.dispose();
  board = null;
  vi.useRealTimers();
});

describe("keeping the queue current", () => {
  it("reads the queue again when Rust says this profile's proposals changed, not another's", async () => {
    const b = await started(true);
    expect(mocked.proposalsList).toHaveBeenCalledTimes(1);
    emitProposalsChanged({ profile: "someone-else", live: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(mocked.proposalsList, "another profile's news is not ours").toHaveBeenCalledTimes(1);

    mocked.proposalsList.mockResolvedValue(
      ok(approvalsOf([proposalSummary({ id: "p1" }), proposalSummary({ id: "p2" })], { live: true })),
    );
    emitProposalsChanged({ profile: "alice", live: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(mocked.proposalsList).toHaveBeenLastCalledWith("alice");
    expect(b.queue.mine.map((p) => p.id), "the new proposal is in").toEqual(["p1", "p2"]);
  });

  it("reads the open proposal again with the queue", async () => {
    const b = await started(true);
    mocked.proposalDetail.mockResolvedValue(ok(detailOf(proposalSummary({ id: "p1" }))));
    await b.openProposal("p1");
    const approved = proposalSummary({
      id: "p1",
      approvals: [{ officer: "carol", at: "2099-01-01T11:00:00Z", device: "YubiKey 5.7.1 31000002", transactionId: "t", relayed: true }],
    });
    mocked.proposalDetail.mockResolvedValue(ok(detailOf(approved)));
    emitProposalsChanged({ profile: "alice", live: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(mocked.proposalDetail).toHaveBeenCalledTimes(2);
    expect(b.open?.detail?.proposal.approvals.map((a) => a.officer), "carol's approval shows").toEqual(["carol"]);
  });

  it("does not poll while the server's events arrive", async () => {
    const b = await started(true);
    expect(b.live).toBe(true);
    await vi.advanceTimersByTimeAsync(POLL_MS * 3);
    expect(mocked.proposalsList, "events bring the news").toHaveBeenCalledTimes(1);
  });

  it("polls every 15 s while they do not, and stops once they are back", async () => {
    const b = await started(false);
    expect(b.live).toBe(false);
    await vi.advanceTimersByTimeAsync(POLL_MS - 1);
    expect(mocked.proposalsList, "not before 15 s").toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(mocked.proposalsList, "at 15 s").toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(POLL_MS);
    expect(mocked.proposalsList, "and every 15 s after").toHaveBeenCalledTimes(3);

    mocked.proposalsList.mockResolvedValue(ok(approvalsOf([], { live: true })));
    emitProposalsChanged({ profile: "alice", live: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(b.live, "events are back").toBe(true);
    await vi.advanceTimersByTimeAsync(POLL_MS * 3);
    expect(mocked.proposalsList, "one read for the event, no more polling").toHaveBeenCalledTimes(4);
  });

  it("starts polling when Rust says the events dropped", async () => {
    await started(true);
    mocked.proposalsList.mockResolvedValue(ok(approvalsOf([], { live: false })));
    emitProposalsChanged({ profile: "alice", live: false });
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(POLL_MS);
    expect(mocked.proposalsList, "the event's read, then a poll").toHaveBeenCalledTimes(3);
  });

  it("polls when this screen cannot listen at all, whatever the server says", async () => {
    events.unavailable = true;
    const b = await started(true);
    expect(b.live, "nothing would tell the screen").toBe(false);
    await vi.advanceTimersByTimeAsync(POLL_MS);
    expect(mocked.proposalsList).toHaveBeenCalledTimes(2);
  });

  it("stops listening and polling when the screen closes", async () => {
    const b = await started(false);
    expect(listeners.size).toBe(1);
    b.dispose();
    expect(listeners.size, "unlistened").toBe(0);
    await vi.advanceTimersByTimeAsync(POLL_MS * 2);
    expect(mocked.proposalsList, "no poll after closing").toHaveBeenCalledTimes(1);
  });
});
