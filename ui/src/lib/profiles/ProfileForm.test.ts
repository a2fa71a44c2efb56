import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("../../bindings", () => import("../../testing/mock-bindings"));

import { commands, type IpcError, type ProfileFile } from "../../bindings";
import { alice, failed, ok } from "../../testing/fixtures";
import { Gatehouse, gatehouseContext } from "../gatehouse.svelte";
import ProfileForm from "./ProfileForm.svelte";

const mocked = vi.mocked(commands);

/** What Rust answers for each file: a ticket and the name, never the path. */
const CHOSEN: Record<ProfileFile, { ticket: number; name: string }> = {
  caCert: { ticket: 11, name: "ca.pem" },
  clientCert: { ticket: 12, name: "alice.pem" },
  clientKey: { ticket: 13, name: "alice.key" },
};

function setup() {
  const onsaved = vi.fn();
  const user = userEvent.setup();
  render(ProfileForm, { props: { onsaved }, context: gatehouseContext(new Gatehouse()) });
  return { user, onsaved };
}

async function fillValidForm(user: ReturnType<typeof userEvent.setup>): Promise<void> {
  await user.type(screen.getByLabelText("Profile name"), "alice");
  await user.type(screen.getByLabelText("Server URL"), "https://gatehouse.test:8443");
  await user.click(screen.getByRole("button", { name: "Choose CA certificate file" }));
  await user.click(screen.getByRole("button", { name: "Choose Client certificate file" }));
  await user.click(screen.getByRole("button", { name: "Choose Client key file" }));
  await user.selectOptions(screen.getByLabelText("Environment"), "production");
}

beforeEach(() => {
  mocked.profileChooseFile.mockImplementation(async (file: ProfileFile) => ok(CHOSEN[file]));
  mocked.profileList.mockResolvedValue(ok([alice]));
});

describe("ProfileForm", () => {
  it("focuses the profile name first", () => {
    setup();
    expect(screen.getByLabelText("Profile name"), "typing can start at once").toHaveFocus();
  });

  it("rejects empty fields inline and sends nothing", async () => {
    const { user } = setup();
    await user.click(screen.getByRole("button", { name: "Save profile" }));

    expect(mocked.profileAdd, "an incomplete profile must not reach Rust").not.toHaveBeenCalled();
    expect(screen.getByLabelText("Profile name"), "the first invalid field is marked").toHaveAttribute(
      "aria-invalid",
      "true",
    );
    expect(screen.getByLabelText("Profile name"), "focus goes to the first problem").toHaveFocus();
    expect(screen.getByLabelText("Profile name"), "the message is tied to its field").toHaveAccessibleDescription(
      expect.stringContaining("Enter a name for this profile."),
    );
    for (const label of ["Server URL", "CA certificate", "Client certificate", "Client key", "Environment"]) {
      expect(screen.getByLabelText(label), `${label} must be flagged when empty`).toHaveAttribute("aria-invalid", "true");
    }
  });

  it("rejects an http:// server address", async () => {
    const { user } = setup();
    await fillValidForm(user);
    const url = screen.getByLabelText("Server URL");
    await user.clear(url);
    await user.type(url, "http://gatehouse.test");
    await user.click(screen.getByRole("button", { name: "Save profile" }));

    expect(mocked.profileAdd, "a plain-HTTP profile must never be saved").not.toHaveBeenCalled();
    expect(url, "the address field explains why").toHaveAccessibleDescription(expect.stringContaining("https://"));
    expect(url, "focus lands on the bad address").toHaveFocus();
  });

  it("asks Rust to choose each file and shows the name it answers", async () => {
    const { user } = setup();
    await user.click(screen.getByRole("button", { name: "Choose Client key file" }));
    expect(mocked.profileChooseFile, "Rust shows the chooser for the key").toHaveBeenCalledExactlyOnceWith("clientKey");
    expect(screen.getByLabelText("Client key"), "the chosen file's name is shown").toHaveValue("alice.key");
    expect(screen.getByLabelText("Client key"), "files come from the chooser, not typing").toHaveAttribute("readonly");
  });

  it("keeps the earlier choice when the chooser is cancelled, and shows a chooser failure", async () => {
    const { user } = setup();
    await user.click(screen.getByRole("button", { name: "Choose CA certificate file" }));
    mocked.profileChooseFile.mockResolvedValueOnce(ok(null));
    await user.click(screen.getByRole("button", { name: "Choose CA certificate file" }));
    expect(screen.getByLabelText("CA certificate"), "a cancelled chooser changes nothing").toHaveValue("ca.pem");
    mocked.profileChooseFile.mockResolvedValueOnce(
      failed({
        code: "io",
        message: "the file chooser returned a location that is not a local file",
        hint: "Choose a file on this computer's disks.",
        detail: null,
        fingerprint: null,
        triesLeft: null,
      }),
    );
    await user.click(screen.getByRole("button", { name: "Choose Client key file" }));
    expect(screen.getByLabelText("Client key"), "the failure is said at the field").toHaveAccessibleDescription(
      expect.stringContaining("Choose a file on this computer's disks."),
    );
  });

  it("sends the passphrase once and clears it from the form", async () => {
    mocked.profileAdd.mockResolvedValue(ok(alice));
    const { user, onsaved } = setup();
    await fillValidForm(user);
    const passphrase = screen.getByLabelText("Key passphrase (optional)");
    expect(passphrase, "the passphrase is masked").toHaveAttribute("type", "password");
    await user.type(passphrase, "correct horse");
    await user.click(screen.getByRole("button", { name: "Save profile" }));

    expect(mocked.profileAdd, "Rust receives the profile, its files by ticket").toHaveBeenCalledWith({
      name: "alice",
      serverUrl: "https://gatehouse.test:8443",
      caCert: 11,
      clientCert: 12,
      clientKey: 13,
      keyPassphrase: "correct horse",
      environment: "production",
    });
    expect(passphrase, "the passphrase must not stay in the UI after submit").toHaveValue("");
    expect(onsaved, "the view moves on with the saved profile").toHaveBeenCalledWith(alice);
  });

  it("clears the passphrase and shows Rust's error when saving fails", async () => {
    const invalid: IpcError = {
      code: "profile_invalid",
      message: "The client key does not match the client certificate.",
      hint: "Choose the key file that belongs to alice.pem.",
      detail: null,
      fingerprint: null,
      triesLeft: null,
    };
    mocked.profileAdd.mockResolvedValue(failed(invalid));
    const { user, onsaved } = setup();
    await fillValidForm(user);
    await user.type(screen.getByLabelText("Key passphrase (optional)"), "wrong");
    await user.click(screen.getByRole("button", { name: "Save profile" }));

    const alert = await screen.findByRole("alert");
    expect(alert, "the failure is identified by code").toHaveAttribute("data-error-code", "profile_invalid");
    expect(alert, "Rust's message is shown").toHaveTextContent(invalid.message);
    expect(alert, "Rust's next step is shown").toHaveTextContent(invalid.hint);
    expect(screen.getByLabelText("Key passphrase (optional)"), "a failed save clears it too").toHaveValue("");
    expect(onsaved, "nothing was saved").not.toHaveBeenCalled();
  });
});
