import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("../../bindings", () => import("../../testing/mock-bindings"));
const handlers: ((change: { profile: string; live: boolean }) => void)[] = [];
vi.mock("../proposals/events", () => ({
  onProposalsChanged: (handler: (change: { profile: string; live: boolean }) => void) => {
    handlers.push(handler);
    return Promise.resolve(() => {});
  },
}));

import { commands, type BreakerBody, type BreakerView } from "../../bindings";
import { failed, ok, yubikey } from "../../testing/fixtures";
import BreakerBanner from "./BreakerBanner.svelte";

const mocked = vi.mocked(commands);

const open: BreakerView = {
  tripped: false,
  by: null,
  at: null,
  reason: null,
  ledgerStatus: null,
  ledgerPaused: false,
  unpausedByResume: null,
  resume: null,
  responder: false,
  officer: true,
};
const tripped: BreakerView = {
  ...open,
  tripped: true,
  by: "carol",
  at: "2099-01-01T10:00:00Z",
  reason: "the supply key may have leaked",
  ledgerStatus: "SUCCESS",
  ledgerPaused: true,
};
const pauseBody: BreakerBody = {
  pauses: true,
  fingerprint: "aaaa-bbbb-cccc-dddd",
  fields: [{ label: "Action", value: "PAUSE TOKEN 0.0.1001" }],
  expiresAt: "2099-01-01T10:03:00Z",
  resume: null,
};

beforeEach(() => {
  handlers.length = 0;
  mocked.breakerStatus.mockReset();
  mocked.breakerPreparePause.mockReset();
  mocked.breakerPrepareUnpause.mockReset();
  mocked.breakerSign.mockReset();
  mocked.resumePropose.mockReset();
  mocked.deviceScan.mockResolvedValue(ok({ devices: [yubikey], problems: [] }));
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
    expect(screen.getByTestId("breaker-ledger")).toHaveTextContent(
      "Ledger: pause accepted; the mirror shows the token PAUSED",
    );
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

  it("shows the pause control to responders only, while the breaker is open", async () => {
    mocked.breakerStatus.mockResolvedValue(ok(open));
    const { unmount } = render(BreakerBanner, { profile: "bob" });
    await vi.waitFor(() => expect(mocked.breakerStatus).toHaveBeenCalledOnce());
    expect(screen.queryByTestId("pause-bar"), "an officer alone cannot pause").toBeNull();
    unmount();
    mocked.breakerStatus.mockResolvedValue(ok({ ...open, responder: true }));
    render(BreakerBanner, { profile: "carol" });
    expect(await screen.findByTestId("pause-hold")).toHaveTextContent("Pause everything");
    expect(screen.getByTestId("pause-hold-how")).toHaveTextContent("Hold for 1.5 s, or press Enter and type to confirm.");
  });

  it("from the keyboard: Enter, type PAUSE, then the device signs the body shown; the reason is optional", async () => {
    const user = userEvent.setup();
    mocked.breakerStatus.mockResolvedValue(ok({ ...open, responder: true }));
    mocked.breakerPreparePause.mockResolvedValue(ok(pauseBody));
    mocked.breakerSign.mockResolvedValue(ok({ ...tripped, responder: true }));
    render(BreakerBanner, { profile: "carol" });
    const hold = await screen.findByTestId("pause-hold");
    await user.type(screen.getByTestId("pause-reason"), "  keys leaked ");
    hold.focus();
    await user.keyboard("{Enter}");
    expect(mocked.breakerPreparePause, "nothing happens before the typed confirmation").not.toHaveBeenCalled();
    const confirm = await screen.findByRole("dialog", { name: "Emergency pause" });
    await user.type(within(confirm).getByRole("textbox"), "PAUSE{Enter}");
    const dialog = await screen.findByTestId("breaker-sign-dialog");
    expect(mocked.breakerPreparePause).toHaveBeenCalledExactlyOnceWith("carol", "keys leaked");
    expect(await within(dialog).findByTestId("breaker-body")).toHaveTextContent("PAUSE TOKEN 0.0.1001");
    expect(within(dialog).getByTestId("breaker-body-fingerprint")).toHaveTextContent("aaaa-bbbb-cccc-dddd");
    await within(dialog).findByRole("radio", { checked: true });
    mocked.breakerStatus.mockResolvedValue(ok({ ...tripped, responder: true }));
    await user.type(within(dialog).getByTestId("breaker-sign-pin"), "123456{Enter}");
    expect(mocked.breakerSign).toHaveBeenCalledExactlyOnceWith("carol", yubikey.id, "123456");
    expect(await screen.findByTestId("breaker-banner")).toHaveTextContent("carol tripped the emergency breaker");
    expect(screen.queryByTestId("breaker-sign-dialog")).toBeNull();
  });

  it("lets an officer propose resuming, with a reason, once paused", async () => {
    const user = userEvent.setup();
    mocked.breakerStatus.mockResolvedValue(ok(tripped));
    mocked.resumePropose.mockResolvedValue(failed({
        code: "refused",
        message: "a resume is already open",
        hint: "Approve it.",
        detail: null,
        fingerprint: null,
        triesLeft: null,
      }),
    );
    render(BreakerBanner, { profile: "bob" });
    await user.click(await screen.findByTestId("breaker-propose-resume"));
    const dialog = await screen.findByTestId("resume-dialog");
    await user.click(within(dialog).getByTestId("resume-submit"));
    expect(within(dialog).getByText("Say why it is safe to resume.")).toBeVisible();
    expect(mocked.resumePropose).not.toHaveBeenCalled();
    await user.type(within(dialog).getByTestId("resume-reason"), "keys rotated");
    await user.click(within(dialog).getByTestId("resume-submit"));
    expect(mocked.resumePropose).toHaveBeenCalledWith("bob", "keys rotated");
    expect(await within(dialog).findByText(/a resume is already open/)).toBeVisible();
  });

  it("offers a responder the unpause only once the quorum approved, and signs the TokenUnpause", async () => {
    const user = userEvent.setup();
    const waiting = { id: "r1", reason: "keys rotated", approvals: 1, threshold: 2, ready: false };
    mocked.breakerStatus.mockResolvedValue(ok({ ...tripped, responder: true, resume: waiting }));
    const onopenapprovals = vi.fn();
    render(BreakerBanner, { profile: "carol", onopenapprovals });
    expect(await screen.findByTestId("breaker-resume")).toHaveTextContent("1 of 2 approvals");
    expect(screen.queryByTestId("breaker-unpause")).toBeNull();
    await user.click(screen.getByTestId("breaker-open-approvals"));
    expect(onopenapprovals).toHaveBeenCalledOnce();

    mocked.breakerStatus.mockResolvedValue(
      ok({ ...tripped, responder: true, resume: { ...waiting, approvals: 2, ready: true } }),
    );
    handlers.forEach((h) => h({ profile: "carol", live: true }));
    mocked.breakerPrepareUnpause.mockResolvedValue(ok({ ...pauseBody, pauses: false, resume: "r1" }));
    await user.click(await screen.findByTestId("breaker-unpause"));
    await screen.findByTestId("breaker-sign-dialog");
    expect(mocked.breakerPrepareUnpause).toHaveBeenCalledWith("carol", "r1");
  });
});
