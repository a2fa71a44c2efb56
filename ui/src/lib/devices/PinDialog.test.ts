import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import { deviceError } from "../../testing/fixtures";
import PinDialog from "./PinDialog.svelte";

function setup(props: Partial<{ busy: boolean; error: ReturnType<typeof deviceError> | null }> = {}) {
  const onsubmit = vi.fn();
  const oncancel = vi.fn();
  const user = userEvent.setup();
  render(PinDialog, { device: "YubiKey 31000001", purpose: "to read its keys", onsubmit, oncancel, ...props });
  return { user, onsubmit, oncancel };
}

describe("the PIN dialog", () => {
  it("hands the PIN over once and keeps nothing", async () => {
    const { user, onsubmit } = setup();
    const field = screen.getByLabelText("PIN");
    expect(field, "the PIN field takes focus").toHaveFocus();
    expect(field, "the PIN is masked").toHaveAttribute("type", "password");
    expect(screen.getByRole("button", { name: "Unlock" }), "nothing to submit yet").toBeDisabled();
    await user.type(field, "123456");
    await user.keyboard("{Enter}");
    expect(onsubmit, "the PIN goes to the caller").toHaveBeenCalledExactlyOnceWith("123456");
    expect(field, "and is cleared from the page at once").toHaveValue("");
    expect(screen.getByRole("button", { name: "Unlock" }), "an empty field cannot be sent again").toBeDisabled();
  });

  it("shows the tries left after a wrong PIN", () => {
    setup({ error: deviceError("device_pin_incorrect", "PIN incorrect for YubiKey 31000001", 2) });
    expect(screen.getByTestId("pin-tries")).toHaveTextContent("2 tries left before the PIN blocks.");
    expect(screen.getByRole("alert")).toHaveTextContent("Wrong PIN");
  });

  it("after a missed touch, names it and takes the PIN again", async () => {
    const { user, onsubmit } = setup({
      error: deviceError("device_touch_timeout", "YubiKey 31000001 was not touched in time"),
    });
    expect(screen.getByRole("alert"), "titled for people").toHaveTextContent("YubiKey not touched");
    expect(screen.getByRole("alert"), "with Rust's message").toHaveTextContent("not touched in time");
    expect(screen.queryByTestId("pin-tries"), "no try was used").toBeNull();
    await user.type(screen.getByLabelText("PIN"), "123456");
    await user.keyboard("{Enter}");
    expect(onsubmit, "another try goes through").toHaveBeenCalledExactlyOnceWith("123456");
  });

  it("stops asking once the PIN is blocked, and says what the PUK does", () => {
    setup({ error: deviceError("device_pin_blocked", "the PIN of YubiKey 31000001 is blocked; unblock it with the PUK") });
    expect(screen.getByLabelText("PIN"), "no more guesses").toBeDisabled();
    expect(screen.getByRole("alert")).toHaveTextContent("PIN blocked");
    expect(screen.getByRole("alert")).toHaveTextContent("PUK");
  });

  it("shows that the device is working, and Escape cancels only when it is not", async () => {
    const { user, oncancel } = setup({ busy: true });
    expect(screen.getByRole("status")).toHaveTextContent("If it blinks, touch it.");
    await user.keyboard("{Escape}");
    expect(oncancel, "a device at work is not abandoned mid-operation").not.toHaveBeenCalled();
  });

  it("Escape cancels", async () => {
    const { user, oncancel } = setup();
    await user.keyboard("{Escape}");
    expect(oncancel).toHaveBeenCalledOnce();
  });
});
