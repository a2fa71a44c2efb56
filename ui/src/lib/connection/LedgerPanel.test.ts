import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("../../bindings", () => import("../../testing/mock-bindings"));

import { commands, type LedgerView } from "../../bindings";
import { deviceError, failed, ok } from "../../testing/fixtures";
import LedgerPanel from "./LedgerPanel.svelte";

const mocked = vi.mocked(commands);

const answering: LedgerView = {
  configured: true,
  mode: "simulator",
  nodes: ["127.0.0.1:50211"],
  mirror: ["http://127.0.0.1:5551"],
  operatorAccount: "0.0.2",
  reachable: true,
  operatorBalanceHbar: "49999.5",
  error: null,
};

beforeEach(() => {
  vi.resetAllMocks();
});

describe("LedgerPanel", () => {
  it("asks over the profile's connection and shows the network answering, with the operator's balance", async () => {
    mocked.ledgerStatus.mockResolvedValue(ok(answering));
    render(LedgerPanel, { profile: "alice" });
    const region = screen.getByRole("region", { name: "Ledger" });
    expect(await within(region).findByTestId("ledger-state")).toHaveTextContent("Answering");
    expect(mocked.ledgerStatus).toHaveBeenCalledExactlyOnceWith("alice");
    expect(region).toHaveTextContent("Local simulator (development)");
    expect(region).toHaveTextContent("127.0.0.1:50211");
    expect(within(region).getByTestId("ledger-balance")).toHaveTextContent("49,999.5 ℏ");
  });

  it("says loudly when the network does not answer, with the reason, and checks again on request", async () => {
    mocked.ledgerStatus
      .mockResolvedValueOnce(
        ok({ ...answering, mode: "network", reachable: false, operatorBalanceHbar: null, error: "deadline exceeded" }),
      )
      .mockResolvedValueOnce(ok(answering));
    const user = userEvent.setup();
    render(LedgerPanel, { profile: "alice" });
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Not answering: deadline exceeded");
    expect(screen.queryByTestId("ledger-balance"), "no balance from a silent network").toBeNull();
    expect(screen.getByRole("region", { name: "Ledger" })).toHaveTextContent("Hedera network");
    await user.click(screen.getByRole("button", { name: "Check again" }));
    expect(await screen.findByText("Answering")).toBeVisible();
    expect(mocked.ledgerStatus).toHaveBeenCalledTimes(2);
  });

  it("says what a server without a ledger cannot do", async () => {
    mocked.ledgerStatus.mockResolvedValue(
      ok({ ...answering, configured: false, mode: null, nodes: [], mirror: [], operatorAccount: null, reachable: false, operatorBalanceHbar: null }),
    );
    render(LedgerPanel, { profile: "alice" });
    expect(await screen.findByTestId("ledger-state")).toHaveTextContent("no ledger configured");
  });

  it("shows why the server could not be asked", async () => {
    mocked.ledgerStatus.mockResolvedValue(failed(deviceError("device_pin_required", "profile alice is not connected")));
    render(LedgerPanel, { profile: "alice" });
    expect(await screen.findByRole("alert")).toHaveTextContent("not connected");
  });
});
