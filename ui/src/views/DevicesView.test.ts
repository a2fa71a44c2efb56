import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("../bindings", () => import("../testing/mock-bindings"));

import { commands } from "../bindings";
import { Gatehouse, gatehouseContext } from "../lib/gatehouse.svelte";
import { deviceError, failed, ok, softwareFile, tlsKey, yubikey, yubikeyWith } from "../testing/fixtures";
import DevicesView from "./DevicesView.svelte";

const mocked = vi.mocked(commands);

function setup() {
  const user = userEvent.setup();
  render(DevicesView, { context: gatehouseContext(new Gatehouse()) });
  return { user };
}

/** Opens the listed YubiKey, which holds no key yet; generating will give it the TLS key. */
async function openEmptyYubikey() {
  const { user } = setup();
  mocked.deviceOpen.mockResolvedValue(ok(yubikeyWith([], 3)));
  mocked.deviceGenerate.mockResolvedValue(ok(yubikeyWith([tlsKey], 3)));
  const table = await screen.findByRole("table", { name: "Devices present" });
  await user.click(within(table).getAllByRole("button", { name: "Open…" })[0]!);
  await user.type(screen.getByLabelText("PIN"), "123456{Enter}");
  await screen.findByText("No keys on this device yet.");
  return user;
}

beforeEach(() => {
  vi.resetAllMocks();
  mocked.deviceScan.mockResolvedValue(
    ok({
      devices: [yubikey, softwareFile],
      problems: [deviceError("device_not_found", "cannot load PKCS#11 module /opt/hsm/libvendor.so")],
    }),
  );
});

describe("the Devices screen", () => {
  it("lists what is present, marks software keys, and says where it could not look", async () => {
    setup();
    const table = await screen.findByRole("table", { name: "Devices present" });
    const rows = within(table).getAllByRole("row");
    expect(rows, "a header and two devices").toHaveLength(3);
    expect(rows[1]).toHaveTextContent("YubiKey (PIV)");
    expect(rows[1]).toHaveTextContent("31000001");
    expect(rows[2]).toHaveTextContent("software key: not for production");
    const problems = screen.getByRole("region", { name: "Where the scan could not look" });
    expect(problems).toHaveTextContent("/opt/hsm/libvendor.so");
  });

  it("opens a device with its PIN: a wrong PIN shows the tries left, the right one shows the keys", async () => {
    const { user } = setup();
    mocked.deviceOpen
      .mockResolvedValueOnce(failed(deviceError("device_pin_incorrect", "PIN incorrect", 2)))
      .mockResolvedValueOnce(ok(yubikeyWith([tlsKey], 3)));
    const table = await screen.findByRole("table", { name: "Devices present" });
    await user.click(within(table).getAllByRole("button", { name: "Open…" })[0]!);

    const dialog = screen.getByRole("dialog", { name: "Device PIN" });
    await user.type(within(dialog).getByLabelText("PIN"), "000000{Enter}");
    expect(mocked.deviceOpen).toHaveBeenLastCalledWith(yubikey.id, "000000");
    expect(await within(dialog).findByTestId("pin-tries")).toHaveTextContent("2 tries left");

    await user.type(within(dialog).getByLabelText("PIN"), "123456{Enter}");
    const opened = await screen.findByRole("region", { name: "Opened device" });
    expect(screen.queryByRole("dialog"), "the dialog closes").toBeNull();
    expect(within(opened).getByTestId("pin-status")).toHaveTextContent("3 tries left");
    const keys = within(opened).getByRole("table", { name: "Keys" });
    expect(keys).toHaveTextContent("9a");
    expect(keys).toHaveTextContent("ECDSA P-256");
  });

  it("changes the PIN from the opened device, with the current PIN and the new one twice", async () => {
    const { user } = setup();
    mocked.deviceOpen.mockResolvedValue(ok(yubikeyWith([tlsKey], 3)));
    mocked.deviceChangePin.mockResolvedValue(ok(yubikeyWith([tlsKey], 3)));
    const table = await screen.findByRole("table", { name: "Devices present" });
    await user.click(within(table).getAllByRole("button", { name: "Open…" })[0]!);
    await user.type(screen.getByLabelText("PIN"), "123456{Enter}");
    await screen.findByRole("region", { name: "Opened device" });

    await user.click(screen.getByRole("button", { name: "Change PIN…" }));
    const dialog = screen.getByRole("dialog", { name: "Change the PIN" });
    await user.type(within(dialog).getByLabelText("Current PIN"), "123456");
    await user.type(within(dialog).getByLabelText("New PIN"), "24681357");
    await user.type(within(dialog).getByLabelText("New PIN again"), "24681357{Enter}");
    expect(mocked.deviceChangePin).toHaveBeenCalledExactlyOnceWith(yubikey.id, "123456", "24681357");
    expect(await screen.findByTestId("pin-news")).toHaveTextContent("PIN changed.");
    expect(screen.queryByRole("dialog"), "the dialog closes").toBeNull();
  });

  it("offers the PUK when opening finds the PIN blocked, and opens the device unblocked", async () => {
    const { user } = setup();
    mocked.deviceOpen.mockResolvedValue(failed(deviceError("device_pin_blocked", "the PIN of YubiKey 31000001 is blocked")));
    mocked.deviceUnblockPin
      .mockResolvedValueOnce(failed(deviceError("device_pin_incorrect", "PUK incorrect for YubiKey 31000001", 4)))
      .mockResolvedValueOnce(ok(yubikeyWith([tlsKey], 3)));
    const table = await screen.findByRole("table", { name: "Devices present" });
    await user.click(within(table).getAllByRole("button", { name: "Open…" })[0]!);
    await user.type(screen.getByLabelText("PIN"), "000000{Enter}");
    await user.click(await screen.findByRole("button", { name: "Unblock with the PUK…" }));

    const dialog = screen.getByRole("dialog", { name: "Unblock the PIN with the PUK" });
    await user.type(within(dialog).getByLabelText("PUK"), "00000000");
    await user.type(within(dialog).getByLabelText("New PIN"), "654321");
    await user.type(within(dialog).getByLabelText("New PIN again"), "654321{Enter}");
    expect(mocked.deviceUnblockPin).toHaveBeenLastCalledWith(yubikey.id, "00000000", "654321");
    expect(await within(dialog).findByTestId("new-pin-tries"), "a wrong PUK shows its tries left").toHaveTextContent(
      "4 tries of the PUK left.",
    );

    await user.type(within(dialog).getByLabelText("PUK"), "12345678");
    await user.type(within(dialog).getByLabelText("New PIN"), "654321");
    await user.type(within(dialog).getByLabelText("New PIN again"), "654321{Enter}");
    const opened = await screen.findByRole("region", { name: "Opened device" });
    expect(within(opened).getByTestId("pin-status")).toHaveTextContent("3 tries left");
    expect(within(opened).getByTestId("pin-news")).toHaveTextContent("PIN unblocked");
  });

  it("does not offer the PUK for a token, which has none", async () => {
    const { user } = setup();
    mocked.deviceOpen.mockResolvedValue(failed(deviceError("device_pin_blocked", "the PIN is locked")));
    const table = await screen.findByRole("table", { name: "Devices present" });
    await user.click(within(table).getAllByRole("button", { name: "Open…" })[1]!);
    await user.type(screen.getByLabelText("PIN"), "000000{Enter}");
    await screen.findByText("PIN blocked");
    expect(screen.queryByRole("button", { name: "Unblock with the PUK…" })).toBeNull();
  });

  it("generates a key after asking for the PIN again", async () => {
    const user = await openEmptyYubikey();

    await user.click(screen.getByRole("button", { name: "Generate…" }));
    const dialog = screen.getByRole("dialog", { name: "Device PIN" });
    await user.type(within(dialog).getByLabelText("PIN"), "123456{Enter}");
    expect(mocked.deviceGenerate, "a YubiKey key with its usual touch policy").toHaveBeenCalledWith(
      yubikey.id,
      "123456",
      "p256",
      "",
      null,
    );
    const keys = await screen.findByRole("table", { name: "Keys" });
    expect(keys).toHaveTextContent("9a: authentication (TLS)");
  });

  it("generates a YubiKey key that asks for a touch when chosen", async () => {
    const user = await openEmptyYubikey();
    expect(screen.queryByLabelText("Label (PKCS#11 tokens)"), "a YubiKey names keys by slot").toBeNull();
    await user.selectOptions(screen.getByLabelText("Touch (YubiKey)"), "always");
    await user.click(screen.getByRole("button", { name: "Generate…" }));
    await user.type(within(screen.getByRole("dialog", { name: "Device PIN" })).getByLabelText("PIN"), "123456{Enter}");
    expect(mocked.deviceGenerate).toHaveBeenCalledWith(yubikey.id, "123456", "p256", "", "always");
  });

  it("warns before a YubiKey slot that holds a key is overwritten", async () => {
    const { user } = setup();
    mocked.deviceOpen.mockResolvedValue(ok(yubikeyWith([tlsKey], 3)));
    const table = await screen.findByRole("table", { name: "Devices present" });
    await user.click(within(table).getAllByRole("button", { name: "Open…" })[0]!);
    await user.type(screen.getByLabelText("PIN"), "123456{Enter}");
    await screen.findByRole("table", { name: "Keys" });
    expect(screen.getByRole("note")).toHaveTextContent("Slot 9a already holds a key");
    expect(screen.getByRole("button", { name: "Replace the key in 9a…" })).toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText(/Algorithm/), "ed25519");
    expect(screen.queryByRole("note"), "9c is empty: nothing to warn about").toBeNull();
  });

  it("reports a device pulled mid-operation inside the dialog", async () => {
    const { user } = setup();
    mocked.deviceOpen.mockResolvedValue(failed(deviceError("device_gone", "YubiKey 31000001 was removed")));
    const table = await screen.findByRole("table", { name: "Devices present" });
    await user.click(within(table).getAllByRole("button", { name: "Open…" })[0]!);
    await user.type(screen.getByLabelText("PIN"), "123456{Enter}");
    const alert = await within(screen.getByRole("dialog")).findByRole("alert");
    expect(alert).toHaveTextContent("Device removed");
  });
});
