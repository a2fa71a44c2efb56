import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("../../bindings", () => import("../../testing/mock-bindings"));
vi.mock("@tauri-apps/plugin-dialog", () => ({ open: vi.fn() }));

import { open } from "@tauri-apps/plugin-dialog";

import { commands, type IpcError } from "../../bindings";
import { alice, failed, ok } from "../../testing/fixtures";
import { Gatehouse, gatehouseContext } from "../gatehouse.svelte";
import ProfileForm from "./ProfileForm.svelte";

const mocked = vi.mocked(commands);
const openDialog = vi.mocked(open);

const PATHS: Record<string, string> = {
  "Choose the CA certificate": "/etc/gatehouse/ca.pem",
  "Choose your client certificate": "/home/alice/alice.pem",
  "Choose your client key": "/home/alice/alice.key",
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
  openDialog.mockImplementation(async (options) => PATHS[options?.title ?? ""] ?? null);
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

  it("fills path fields from the file chooser with pem/crt and key filters", async () => {
    const { user } = setup();
    await user.click(screen.getByRole("button", { name: "Choose Client key file" }));
    expect(screen.getByLabelText("Client key"), "the chosen path is shown").toHaveValue("/home/alice/alice.key");
    expect(screen.getByLabelText("Client key"), "paths come from the chooser, not typing").toHaveAttribute("readonly");
    const filters = openDialog.mock.calls[0]?.[0]?.filters ?? [];
    expect(filters[0]?.extensions, "key files are offered first").toEqual(["pem", "key"]);
  });

  it("sends the passphrase once and clears it from the form", async () => {
    mocked.profileAdd.mockResolvedValue(ok(alice));
    const { user, onsaved } = setup();
    await fillValidForm(user);
    const passphrase = screen.getByLabelText("Key passphrase (optional)");
    expect(passphrase, "the passphrase is masked").toHaveAttribute("type", "password");
    await user.type(passphrase, "correct horse");
    await user.click(screen.getByRole("button", { name: "Save profile" }));

    expect(mocked.profileAdd, "Rust receives the complete profile").toHaveBeenCalledWith({
      name: "alice",
      serverUrl: "https://gatehouse.test:8443",
      caCertPath: "/etc/gatehouse/ca.pem",
      clientCertPath: "/home/alice/alice.pem",
      clientKeyPath: "/home/alice/alice.key",
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

  it("takes a path set by script, the way the WebDriver suite fills path fields", async () => {
    setup();
    const field = screen.getByLabelText("CA certificate") as HTMLInputElement;
    field.value = "/tmp/e2e/ca.pem";
    field.dispatchEvent(new Event("input", { bubbles: true }));
    await userEvent.setup().click(screen.getByRole("button", { name: "Save profile" }));
    expect(field, "a scripted path counts as chosen").not.toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText("Client certificate"), "untouched paths are still required").toHaveAttribute(
      "aria-invalid",
      "true",
    );
  });
});
