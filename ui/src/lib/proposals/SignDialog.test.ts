import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("../../bindings", () => import("../../testing/mock-bindings"));

import { commands, type IpcError, type ProposalSummary } from "../../bindings";
import type { Result } from "../ipc";
import {
  BODY_FINGERPRINT,
  detailOf,
  deviceError,
  failed,
  MIRROR,
  ok,
  proposalSummary,
  reviewOf,
  softwareFile,
  yubikey,
} from "../../testing/fixtures";
import SignDialog from "./SignDialog.svelte";

const mocked = vi.mocked(commands);

const proposal = proposalSummary({ id: "p1" });
const review = reviewOf(detailOf(proposal));

const doNotSign: IpcError = {
  code: "do_not_sign",
  message: "the mirror's copy of schedule 0.0.5005 differs from what the server shows",
  hint: "Do not sign. Reject the proposal with this reason and tell your security team: the server may be compromised.",
  detail: null,
  fingerprint: null,
  triesLeft: null,
};

function show() {
  const user = userEvent.setup();
  const onsigned = vi.fn();
  const onreject = vi.fn();
  const onclose = vi.fn();
  render(SignDialog, { props: { profile: "alice", proposal, onsigned, onreject, onclose } });
  return { user, onsigned, onreject, onclose };
}

beforeEach(() => {
  mocked.proposalReview.mockResolvedValue(ok(review));
  mocked.deviceScan.mockResolvedValue(ok({ devices: [yubikey], problems: [] }));
});

describe("review and sign", () => {
  it("reviews first, shows what the device signs, then signs with the chosen device and the PIN", async () => {
    const { user, onsigned } = show();
    const dialog = screen.getByTestId("sign-dialog");

    const checked = await within(dialog).findByTestId("sign-checked");
    expect(mocked.proposalReview, "the review comes first").toHaveBeenCalledExactlyOnceWith("alice", "p1", false);
    expect(checked).toHaveTextContent(
      `Checked against the ledger: the mirror ${MIRROR} holds the same scheduled body`,
    );
    expect(within(dialog).getByTestId("sign-body-fingerprint")).toHaveTextContent(BODY_FINGERPRINT);
    expect(within(dialog).getByTestId("sign-body"), "the ScheduleSign's fields").toHaveTextContent(
      "SIGN SCHEDULE 0.0.5005",
    );
    expect(within(dialog).getByText(/The ledger accepts this signature until/)).toBeVisible();

    const only = await within(dialog).findByRole("radio", { name: new RegExp(yubikey.serial) });
    expect(mocked.deviceScan, "then the devices are looked for").toHaveBeenCalledOnce();
    expect(only, "the only device is chosen").toBeChecked();

    const signed = proposalSummary({
      id: "p1",
      approvals: [{ officer: "bob", at: "2099-01-01T10:01:00Z", device: "YubiKey 5.7.1 31000001", transactionId: "t", relayed: true }],
      waitsForMe: false,
    });
    let answer: (result: Result<ProposalSummary, IpcError>) => void = () => {};
    mocked.proposalApprove.mockReturnValue(new Promise((resolve) => (answer = resolve)));
    const pin = within(dialog).getByTestId("sign-pin");
    expect(pin).toHaveAttribute("type", "password");
    expect(pin).toHaveAttribute("autocomplete", "off");
    await user.type(pin, "123456");
    await user.click(within(dialog).getByTestId("sign-submit"));

    expect(mocked.proposalApprove).toHaveBeenCalledExactlyOnceWith("alice", "p1", yubikey.id, "123456");
    expect(pin, "the PIN is not kept in the page").toHaveValue("");
    expect(within(dialog).getByTestId("sign-working")).toHaveTextContent(
      `Signing on ${yubikey.title}… touch the device if it blinks`,
    );
    answer(ok(signed));
    await vi.waitFor(() => expect(onsigned).toHaveBeenCalledExactlyOnceWith(signed));
  });

  it("asks which device when there are several, and signs nothing until one is chosen", async () => {
    mocked.deviceScan.mockResolvedValue(ok({ devices: [yubikey, softwareFile], problems: [] }));
    const { user } = show();
    const dialog = screen.getByTestId("sign-dialog");
    const radios = await within(dialog).findAllByRole("radio");
    expect(radios.filter((r) => (r as HTMLInputElement).checked), "none chosen for the person").toHaveLength(0);
    expect(within(dialog).getByTestId("sign-pin"), "no PIN before a device").toBeDisabled();
    expect(within(dialog).getByText(/development only, refused in production/)).toBeVisible();
    await user.click(radios[0]!);
    await user.type(within(dialog).getByTestId("sign-pin"), "123456{Enter}");
    expect(mocked.proposalApprove).toHaveBeenCalledWith("alice", "p1", yubikey.id, "123456");
  });

  it("blocks signing when the review says do not sign: no PIN field, and rejecting is offered", async () => {
    mocked.proposalReview.mockResolvedValue(failed(doNotSign));
    const { user, onreject } = show();
    const dialog = screen.getByTestId("sign-dialog");
    const blocked = await within(dialog).findByTestId("sign-blocked");
    expect(blocked).toHaveAttribute("role", "alert");
    expect(blocked).toHaveTextContent("Do not sign");
    expect(blocked).toHaveTextContent(doNotSign.message);
    expect(within(dialog).queryByTestId("sign-pin"), "nothing to type a PIN into").toBeNull();
    expect(within(dialog).queryByTestId("sign-submit")).toBeNull();
    expect(mocked.deviceScan, "no device is even looked for").not.toHaveBeenCalled();
    await user.click(within(blocked).getByRole("button", { name: "Reject the proposal…" }));
    expect(onreject).toHaveBeenCalledWith(doNotSign.message);
  });

  it("stays after a wrong PIN, with the tries left, and prepares a fresh review for the next try", async () => {
    const { user, onsigned } = show();
    const dialog = screen.getByTestId("sign-dialog");
    await within(dialog).findByRole("radio", { checked: true });
    mocked.proposalApprove
      .mockResolvedValueOnce(failed(deviceError("device_pin_incorrect", "PIN incorrect for YubiKey 31000001", 2)))
      .mockResolvedValueOnce(ok(proposal));
    mocked.proposalReview.mockResolvedValue(ok(reviewOf(detailOf(proposal), { bodyFingerprint: "0000-1111-2222-3333" })));

    await user.type(within(dialog).getByTestId("sign-pin"), "000000{Enter}");
    expect(await within(dialog).findByTestId("sign-tries")).toHaveTextContent("2 tries left before the PIN blocks.");
    expect(within(dialog).getByTestId("sign-error")).toHaveTextContent("PIN incorrect for YubiKey 31000001");
    expect(within(dialog).getByTestId("sign-pin"), "cleared after the try").toHaveValue("");
    expect(mocked.proposalReview, "Rust used the review: a new one is made").toHaveBeenCalledTimes(2);
    expect(await within(dialog).findByTestId("sign-body-fingerprint"), "the new body's fingerprint").toHaveTextContent(
      "0000-1111-2222-3333",
    );
    expect(within(dialog).getByTestId("sign-reviewed-again")).toBeVisible();
    expect(onsigned).not.toHaveBeenCalled();

    await vi.waitFor(() => expect(within(dialog).getByTestId("sign-pin")).toHaveFocus());
    await user.type(within(dialog).getByTestId("sign-pin"), "123456{Enter}");
    expect(mocked.proposalApprove).toHaveBeenLastCalledWith("alice", "p1", yubikey.id, "123456");
    await vi.waitFor(() => expect(onsigned).toHaveBeenCalledOnce());
  });

  it("reviews again when Rust says the review expired", async () => {
    const { user } = show();
    const dialog = screen.getByTestId("sign-dialog");
    await within(dialog).findByRole("radio", { checked: true });
    mocked.proposalApprove.mockResolvedValue(
      failed(deviceError("review_required", "the review expired: the ledger would refuse the signature")),
    );
    await user.type(within(dialog).getByTestId("sign-pin"), "123456{Enter}");
    expect(await within(dialog).findByTestId("sign-error")).toHaveTextContent("the review expired");
    expect(mocked.proposalReview).toHaveBeenCalledTimes(2);
    expect(within(dialog).getByTestId("sign-checked"), "checked again, ready for another try").toBeVisible();
  });

  it("shows a mirror that cannot be read with what to do, and reviews again on request", async () => {
    mocked.proposalReview
      .mockResolvedValueOnce(
        failed({ ...doNotSign, code: "mirror_unreachable", message: "the mirror did not answer", hint: "Nothing was signed." }),
      )
      .mockResolvedValueOnce(ok(review));
    const { user } = show();
    const dialog = screen.getByTestId("sign-dialog");
    expect(await within(dialog).findByRole("alert")).toHaveTextContent("Mirror node unreachable");
    expect(within(dialog).queryByTestId("sign-pin")).toBeNull();
    await user.click(within(dialog).getByRole("button", { name: "Review again" }));
    expect(await within(dialog).findByTestId("sign-checked")).toBeVisible();
  });

  it("closes with Escape", async () => {
    const { user, onclose } = show();
    await screen.findByTestId("sign-checked");
    await user.keyboard("{Escape}");
    expect(onclose).toHaveBeenCalledOnce();
  });
});
