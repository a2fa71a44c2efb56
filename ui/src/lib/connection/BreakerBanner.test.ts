import { render, screen } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("../../bindings", () => import("../../testing/mock-bindings"));
const handlers: ((change: { profile: string; live: boolean }) => void)[] = [];
vi.mock("../proposals/events", () => ({
  onProposalsChanged: (handler: (change: { profile: string; live: boolean }) => void) => {
    handlers.push(handler);
    return Promise.resolve(() => {});
  },
}));

import { commands, type BreakerView } from "../../bindings";
import { failed, ok } from "../../testing/fixtures";
import BreakerBanner from "./BreakerBanner.svelte";

const mocked = vi.mocked(commands);

const open: BreakerView = { tripped: false, by: null, at: null, reason: null, ledgerStatus: null };
const tripped: BreakerView = {
  tripped: true,
  by: "carol",
  at: "2099-01-01T10:00:00Z",
  reason: "the supply key may have leaked",
  ledgerStatus: "SUCCESS",
};

beforeEach(() => {
  handlers.length = 0;
  mocked.breakerStatus.mockReset();
});

describe("the breaker banner", () => {
  it("shows nothing while the breaker is open, or the server has no ledger", async () => {
    mocked.breakerStatus.mockResolvedValue(ok(open));
    render(BreakerBanner, { profile: "bob" });
    await vi.waitFor(() => expect(mocked.breakerStatus).toHaveBeenCalledWith("bob"));
    expect(screen.queryByTestId("breaker-banner")).toBeNull();
    mocked.breakerStatus.mockResolvedValue(ok(null));
    handlers.forEach((h) => h({ profile: "bob", live: true }));
    await vi.waitFor(() => expect(mocked.breakerStatus).toHaveBeenCalledTimes(2));
    expect(screen.queryByTestId("breaker-banner")).toBeNull();
  });

  it("says who paused, why, and what the ledger did, as soon as the server says so", async () => {
    mocked.breakerStatus.mockResolvedValue(ok(open));
    render(BreakerBanner, { profile: "bob" });
    await vi.waitFor(() => expect(mocked.breakerStatus).toHaveBeenCalledOnce());
    mocked.breakerStatus.mockResolvedValue(ok(tripped));
    handlers.forEach((h) => h({ profile: "alice", live: true }));
    expect(mocked.breakerStatus, "another profile's news is not ours").toHaveBeenCalledOnce();
    handlers.forEach((h) => h({ profile: "bob", live: true }));
    const banner = await screen.findByTestId("breaker-banner");
    expect(banner).toHaveAttribute("role", "alert");
    expect(banner).toHaveTextContent("PAUSED");
    expect(banner).toHaveTextContent("carol tripped the emergency breaker");
    expect(banner).toHaveTextContent("the supply key may have leaked");
    expect(screen.getByTestId("breaker-ledger")).toHaveTextContent("Ledger: token paused");
  });

  it("keeps the last answer when the breaker cannot be read", async () => {
    mocked.breakerStatus.mockResolvedValue(ok(tripped));
    render(BreakerBanner, { profile: "bob" });
    await screen.findByTestId("breaker-banner");
    mocked.breakerStatus.mockResolvedValue(
      failed({ code: "unreachable", message: "down", hint: "", detail: null, fingerprint: null, triesLeft: null }),
    );
    handlers.forEach((h) => h({ profile: "bob", live: false }));
    await vi.waitFor(() => expect(mocked.breakerStatus).toHaveBeenCalledTimes(2));
    expect(screen.getByTestId("breaker-banner"), "a paused deployment is not shown as open").toBeVisible();
  });
});
