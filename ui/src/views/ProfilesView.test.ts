import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("../bindings", () => import("../testing/mock-bindings"));

import { commands, type IpcError } from "../bindings";
import { Gatehouse, gatehouseContext } from "../lib/gatehouse.svelte";
import { alice, bob, failed, ok } from "../testing/fixtures";
import ProfilesView from "./ProfilesView.svelte";

const mocked = vi.mocked(commands);

async function setup() {
  const gatehouse = new Gatehouse();
  await gatehouse.profiles.load();
  const user = userEvent.setup();
  render(ProfilesView, { context: gatehouseContext(gatehouse) });
  return { user, gatehouse };
}

beforeEach(() => {
  mocked.profileList.mockResolvedValue(ok([alice, bob]));
  mocked.profileRemove.mockResolvedValue(ok(null));
});

describe("removing a profile", () => {
  it("requires the profile name to be typed before removing", async () => {
    const { user } = await setup();
    const trigger = screen.getByRole("button", { name: "Remove profile alice" });
    await user.click(trigger);

    const dialog = screen.getByRole("dialog", { name: "Remove profile alice?" });
    const confirm = within(dialog).getByRole("button", { name: "Remove this profile" });
    const typed = within(dialog).getByLabelText("Type alice to confirm");
    expect(typed, "the typing field takes focus").toHaveFocus();
    expect(confirm, "a destructive action starts disabled").toBeDisabled();

    await user.type(typed, "alic");
    expect(confirm, "a partial name does not confirm").toBeDisabled();
    await user.type(typed, "e2");
    expect(confirm, "a different name does not confirm").toBeDisabled();
    expect(mocked.profileRemove, "nothing is removed while unconfirmed").not.toHaveBeenCalled();

    await user.clear(typed);
    await user.type(typed, "alice");
    expect(confirm, "the exact name enables removal").toBeEnabled();
    await user.click(confirm);

    expect(mocked.profileRemove, "the typed profile is removed").toHaveBeenCalledWith("alice");
    expect(screen.queryByRole("dialog"), "the dialog closes after removal").toBeNull();
  });

  it("does not remove when Enter is pressed with the wrong name", async () => {
    const { user } = await setup();
    await user.click(screen.getByRole("button", { name: "Remove profile alice" }));
    await user.keyboard("bob{Enter}");
    expect(mocked.profileRemove, "submitting the form must not bypass the typed check").not.toHaveBeenCalled();
    expect(screen.getByRole("dialog"), "the dialog stays open").toBeVisible();
  });

  it("closes with Escape without removing and returns focus", async () => {
    const { user } = await setup();
    const trigger = screen.getByRole("button", { name: "Remove profile bob-staging" });
    await user.click(trigger);
    await user.keyboard("bob-staging");
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog"), "Escape closes the dialog").toBeNull();
    expect(mocked.profileRemove, "Escape never confirms").not.toHaveBeenCalled();
    expect(trigger, "focus goes back to where it was").toHaveFocus();
  });

  it("keeps the dialog open and shows Rust's error when removal fails", async () => {
    const keyring: IpcError = {
      code: "secret_store",
      message: "The OS keyring refused to delete the secret.",
      hint: "Unlock your keyring and try again.",
      detail: null,
      fingerprint: null,
      triesLeft: null,
    };
    mocked.profileRemove.mockResolvedValue(failed(keyring));
    const { user } = await setup();
    await user.click(screen.getByRole("button", { name: "Remove profile alice" }));
    await user.keyboard("alice{Enter}");
    const dialog = screen.getByRole("dialog");
    expect(within(dialog).getByRole("alert"), "the failure is shown in the dialog").toHaveAttribute(
      "data-error-code",
      "secret_store",
    );
    expect(within(dialog).getByRole("alert"), "with Rust's hint").toHaveTextContent(keyring.hint);
  });
});
