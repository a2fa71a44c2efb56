import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import NewPinDialog from "./NewPinDialog.svelte";

function setup(mode: "change" | "unblock") {
  const onsubmit = vi.fn();
  const oncancel = vi.fn();
  const user = userEvent.setup();
  render(NewPinDialog, { device: "YubiKey 31000001", mode, onsubmit, oncancel });
  return { user, onsubmit, oncancel };
}

describe("the new-PIN dialog", () => {
  it("hands over the current PIN and the new one once, and clears every field", async () => {
    const { user, onsubmit } = setup("change");
    const fields = ["Current PIN", "New PIN", "New PIN again"].map((label) => screen.getByLabelText(label));
    for (const field of fields) expect(field, "every secret is masked").toHaveAttribute("type", "password");
    expect(fields[0], "the current PIN takes focus").toHaveFocus();
    expect(screen.getByRole("button", { name: "Change PIN" }), "nothing to send yet").toBeDisabled();
    await user.type(fields[0]!, "123456");
    await user.type(fields[1]!, "13572468");
    await user.type(fields[2]!, "13572468{Enter}");
    expect(onsubmit).toHaveBeenCalledExactlyOnceWith("123456", "13572468");
    for (const field of fields) expect(field, "nothing stays in the page").toHaveValue("");
  });

  it("refuses two different new PINs before anything reaches the device", async () => {
    const { user, onsubmit } = setup("unblock");
    await user.type(screen.getByLabelText("PUK"), "12345678");
    await user.type(screen.getByLabelText("New PIN"), "654321");
    await user.type(screen.getByLabelText("New PIN again"), "654312{Enter}");
    expect(onsubmit, "a typo must not become the PIN").not.toHaveBeenCalled();
    expect(screen.getByRole("alert")).toHaveTextContent("The two new PINs differ");
    expect(screen.getByLabelText("New PIN"), "the new PINs are asked again").toHaveValue("");
    expect(screen.getByLabelText("New PIN"), "from the first").toHaveFocus();
    expect(screen.getByLabelText("PUK"), "the PUK is kept for the retry").toHaveValue("12345678");
  });

  it("warns, for the PUK, what running out of tries costs", () => {
    setup("unblock");
    expect(screen.getByRole("dialog", { name: "Unblock the PIN with the PUK" })).toHaveTextContent(
      "destroys the keys",
    );
  });
});
