import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("../../bindings", () => import("../../testing/mock-bindings"));

import { commands, type BreakerBody, type BreakGlassOutcome } from "../../bindings";
import { breakGlassReady, failed, ok, yubikey } from "../../testing/fixtures";
import BreakGlassPanel from "./BreakGlassPanel.svelte";

const mocked = vi.mocked(commands);

const setUp = breakGlassReady;
const body: BreakerBody = {
  pauses: true,
  fingerprint: "aaaa-bbbb-cccc-dddd",
  fields: [
    { label: "Action", value: "PAUSE TOKEN 0.0.1001" },
    { label: "Payer", value: "0.0.1042" },
  ],
  expiresAt: "2099-01-01T10:03:00Z",
  resume: null,
};
const outcome: BreakGlassOutcome = {
  token: "0.0.1001",
  transactionId: "0.0.1042@1700000000.000000001",
  ledgerStatus: "SUCCESS",
  mirrorPaused: true,
  mirror: "http://127.0.0.1:5551",
  queued: "/home/carol/.config/gatehouse/break-glass/carol/queue/x.json",
  queueError: null,
  record: '{ "transaction_id": "0.0.1042@1700000000.000000001" }',
};

beforeEach(() => {
  mocked.breakGlassStatus.mockReset();
  mocked.breakGlassPrepare.mockReset();
  mocked.breakGlassSign.mockReset();
  mocked.deviceScan.mockResolvedValue(ok({ devices: [yubikey], problems: [] }));
});

describe("the break-glass panel", () => {
  it("offers nothing for a profile without break-glass and nothing waiting", async () => {
    mocked.breakGlassStatus.mockResolvedValue(ok({ setup: null, problem: "not set up", waiting: 0 }));
    render(BreakGlassPanel, { profile: "bob" });
    await vi.waitFor(() => expect(mocked.breakGlassStatus).toHaveBeenCalledWith("bob"));
    expect(screen.queryByTestId("break-glass")).toBeNull();
  });

  it("says what to do when the set-up cannot choose the key, and offers no control", async () => {
    mocked.breakGlassStatus.mockResolvedValue(
      ok({ ...setUp, problem: "run gatehouse profile break-glass carol again", waiting: 2 }),
    );
    render(BreakGlassPanel, { profile: "carol" });
    expect(await screen.findByTestId("break-glass-problem")).toHaveTextContent("run gatehouse profile break-glass");
    expect(screen.queryByTestId("break-glass-hold")).toBeNull();
    expect(screen.getByTestId("break-glass-waiting")).toHaveTextContent("2 signed break-glass records wait");
  });

  it("pauses on the ledger after the typed confirmation and the device, and says where the record waits", async () => {
    const user = userEvent.setup();
    mocked.breakGlassStatus.mockResolvedValue(ok(setUp));
    mocked.breakGlassPrepare.mockResolvedValue(ok(body));
    mocked.breakGlassSign.mockResolvedValue(
      failed({
        code: "device_refused",
        message: "YubiKey 5 does not hold the key of account 0.0.1042",
        hint: "Choose the device that holds your break-glass account's key.",
        detail: null,
        fingerprint: null,
        triesLeft: null,
      }),
    );
    render(BreakGlassPanel, { profile: "carol" });
    const panel = await screen.findByTestId("break-glass");
    expect(panel).toHaveTextContent("paid by your own account 0.0.1042");
    await user.type(within(panel).getByTestId("break-glass-reason"), "server down");
    within(panel).getByTestId("break-glass-hold").focus();
    await user.keyboard("{Enter}");
    const confirm = await screen.findByRole("dialog", { name: "Emergency pause" });
    expect(mocked.breakGlassPrepare, "nothing is built before the confirmation").not.toHaveBeenCalled();
    await user.type(within(confirm).getByRole("textbox"), "PAUSE{Enter}");
    const dialog = await screen.findByTestId("breaker-sign-dialog");
    expect(dialog).toHaveTextContent("Break-glass pause: sign");
    expect(mocked.breakGlassPrepare).toHaveBeenCalledExactlyOnceWith("carol", "server down");
    expect(await within(dialog).findByTestId("breaker-body")).toHaveTextContent("PAUSE TOKEN 0.0.1001");
    await within(dialog).findByRole("radio", { checked: true });

    // The wrong device: said, nothing paused, a fresh body to sign.
    await user.type(within(dialog).getByTestId("breaker-sign-pin"), "123456{Enter}");
    expect(await within(dialog).findByTestId("breaker-sign-error")).toHaveTextContent("does not hold the key");
    await vi.waitFor(() => expect(mocked.breakGlassPrepare).toHaveBeenCalledTimes(2));
    expect(screen.queryByTestId("break-glass-outcome")).toBeNull();

    mocked.breakGlassSign.mockResolvedValue(ok(outcome));
    mocked.breakGlassStatus.mockResolvedValue(ok({ ...setUp, waiting: 1 }));
    await user.type(within(dialog).getByTestId("breaker-sign-pin"), "123456{Enter}");
    expect(mocked.breakGlassSign).toHaveBeenLastCalledWith("carol", yubikey.id, "123456");
    const done = await screen.findByTestId("break-glass-outcome");
    expect(done).toHaveTextContent("The ledger paused token 0.0.1001");
    expect(done).toHaveTextContent("The mirror shows it PAUSED.");
    expect(done).toHaveTextContent("queue/x.json");
    expect(screen.queryByTestId("breaker-sign-dialog")).toBeNull();
    expect(await screen.findByTestId("break-glass-waiting")).toHaveTextContent("1 signed break-glass record waits");
    expect(screen.queryByTestId("break-glass-hold"), "paused on the ledger: nothing more to hold").toBeNull();
    expect(screen.getByTestId("break-glass-done")).toHaveTextContent("pausing it again would change nothing");
  });

  it("says so when the node gave no receipt, the mirror does not show the pause and the record could not be kept", async () => {
    const user = userEvent.setup();
    mocked.breakGlassStatus.mockResolvedValue(ok(setUp));
    mocked.breakGlassPrepare.mockResolvedValue(ok(body));
    mocked.breakGlassSign.mockResolvedValue(
      ok({
        ...outcome,
        ledgerStatus: "UNKNOWN: no receipt within 30s",
        mirrorPaused: false,
        queued: null,
        queueError: "queue: No space left on device",
      }),
    );
    render(BreakGlassPanel, { profile: "carol" });
    (await screen.findByTestId("break-glass-hold")).focus();
    await user.keyboard("{Enter}");
    await user.type(within(await screen.findByRole("dialog", { name: "Emergency pause" })).getByRole("textbox"), "PAUSE{Enter}");
    const dialog = await screen.findByTestId("breaker-sign-dialog");
    await within(dialog).findByRole("radio", { checked: true });
    await user.type(within(dialog).getByTestId("breaker-sign-pin"), "123456{Enter}");
    const done = await screen.findByTestId("break-glass-outcome");
    expect(done).toHaveTextContent("The node took the pause of token 0.0.1001: UNKNOWN: no receipt within 30s");
    expect(done).toHaveTextContent("does not show it paused yet");
    expect(screen.getByTestId("break-glass-hold"), "not shown paused: the control stays for another try").toBeVisible();
    expect(screen.getByTestId("break-glass-unkept"), "a record that could not be kept is said, not hidden").toHaveTextContent(
      "could not be kept (queue: No space left on device)",
    );
    expect(
      screen.getByRole("button", { name: "Copy signed break-glass record" }),
      "and offered to copy",
    ).toBeVisible();
  });
});
