import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

vi.mock("../bindings", () => import("../testing/mock-bindings"));

import { commands, type ErrorCode, type IpcError } from "../bindings";
import { ERROR_TITLES } from "../lib/errors/errors";
import { Gatehouse, gatehouseContext } from "../lib/gatehouse.svelte";
import { breakGlassReady, FINGERPRINT, notTrusted, ok, unreachable } from "../testing/fixtures";
import ErrorView from "./ErrorView.svelte";

function show(error: IpcError, gatehouse = new Gatehouse()) {
  return render(ErrorView, { props: { error, profile: "alice" }, context: gatehouseContext(gatehouse) });
}

describe("ErrorView", () => {
  it("explains an untrusted server certificate with title, hint and fingerprint", () => {
    show(notTrusted);
    const alert = screen.getByRole("alert");
    expect(alert, "the E2E suite finds the screen by its code").toHaveAttribute("data-error-code", "server_not_trusted");
    expect(within(alert).getByRole("heading", { level: 1 }), "title per code").toHaveTextContent(
      "Server certificate not trusted",
    );
    expect(alert, "what happened, from Rust").toHaveTextContent(notTrusted.message);
    const next = within(alert).getByRole("region", { name: "What to do next" });
    expect(next, "what to do next, from Rust").toHaveTextContent(notTrusted.hint);

    const fingerprint = within(alert).getByText(FINGERPRINT);
    expect(fingerprint.tagName, "the fingerprint is shown as code (monospace)").toBe("CODE");
    expect(
      within(alert).getByRole("button", { name: "Copy server certificate fingerprint" }),
      "the fingerprint can be copied for comparison",
    ).toBeVisible();
  });

  it("keeps technical detail collapsed until asked for", async () => {
    const user = userEvent.setup();
    show(notTrusted);
    const details = screen.getByText("Technical detail").closest("details");
    expect(details, "detail lives in a disclosure").not.toBeNull();
    expect(details, "closed at first: the hint comes first").not.toHaveAttribute("open");
    await user.click(screen.getByText("Technical detail"));
    expect(details, "opens on request").toHaveAttribute("open");
    expect(details, "the detail text is there").toHaveTextContent("UnknownIssuer");
  });

  it("shows no fingerprint or detail block when Rust sent none", () => {
    show(unreachable);
    expect(screen.queryByRole("button", { name: /Copy/ }), "nothing to copy without a fingerprint").toBeNull();
    expect(screen.queryByText("Technical detail"), "no empty disclosure").toBeNull();
  });

  it("focuses Try again and offers another profile", () => {
    show(unreachable);
    expect(screen.getByRole("button", { name: "Try again" }), "the primary action takes focus").toHaveFocus();
    expect(screen.getByRole("button", { name: "Choose another profile" }), "there is a way out").toBeVisible();
  });

  it("renders the agreed title for every code", () => {
    for (const [code, title] of Object.entries(ERROR_TITLES)) {
      const { unmount } = show({ ...unreachable, code: code as ErrorCode });
      const alert = screen.getByRole("alert");
      expect(alert.dataset.errorCode, `data-error-code for ${code}`).toBe(code);
      expect(within(alert).getByRole("heading", { level: 1 }), `title for ${code}`).toHaveTextContent(title);
      unmount();
    }
  });

  it("Try again repeats what failed", async () => {
    const gatehouse = new Gatehouse();
    const retry = vi.spyOn(gatehouse, "retry").mockResolvedValue();
    const user = userEvent.setup();
    show(unreachable, gatehouse);
    await user.click(screen.getByRole("button", { name: "Try again" }));
    expect(retry, "the controller repeats the failed step").toHaveBeenCalledOnce();
  });

  it("offers the audit trail offline for a connection failure, but not for a broken profile", async () => {
    const gatehouse = new Gatehouse();
    const openAudit = vi.spyOn(gatehouse, "openAudit");
    const user = userEvent.setup();
    const { unmount } = show(unreachable, gatehouse);
    await user.click(screen.getByTestId("audit-open-offline"));
    expect(openAudit, "offline explorer for the profile that failed").toHaveBeenCalledWith("alice", false);
    unmount();
    show({ ...unreachable, code: "profile_invalid" }, gatehouse);
    expect(screen.queryByTestId("audit-open-offline"), "no cache to open for a broken profile").toBeNull();
  });

  it("offers a responder's break-glass pause when the server cannot be reached, but not for a broken profile", async () => {
    vi.mocked(commands.breakGlassStatus).mockResolvedValue(ok(breakGlassReady));
    const { unmount } = show(unreachable);
    expect(await screen.findByTestId("break-glass-hold")).toHaveTextContent("Pause the token on the ledger");
    expect(commands.breakGlassStatus).toHaveBeenCalledWith("alice");
    unmount();
    vi.mocked(commands.breakGlassStatus).mockClear();
    show({ ...unreachable, code: "profile_not_found" });
    await Promise.resolve();
    expect(commands.breakGlassStatus, "the panel is not even asked for").not.toHaveBeenCalled();
    expect(screen.queryByTestId("break-glass"), "no profile, no break-glass").toBeNull();
  });
});
