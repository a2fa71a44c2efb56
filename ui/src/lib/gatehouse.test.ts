import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("../bindings", () => import("../testing/mock-bindings"));

import { commands, type Connection, type IpcError } from "../bindings";
import type { Result } from "./ipc";
import { alice, connectionFor, deviceError, failed, ok } from "../testing/fixtures";
import { DEVICE_CHECK_MS, Gatehouse } from "./gatehouse.svelte";

const mocked = vi.mocked(commands);

beforeEach(() => {
  mocked.startupProfile.mockResolvedValue(null);
  mocked.profileList.mockResolvedValue(ok([alice]));
});

describe("Gatehouse controller", () => {
  it("turns an exception from the IPC layer into an internal error screen", async () => {
    mocked.connect.mockRejectedValue(new Error("command connect not allowed"));
    const gatehouse = new Gatehouse();
    await gatehouse.connect("alice");
    expect(gatehouse.screen.kind, "an exception must not leave the spinner up forever").toBe("failed");
    if (gatehouse.screen.kind !== "failed") return;
    expect(gatehouse.screen.error.code, "it is reported as internal").toBe("internal");
    expect(gatehouse.screen.error.detail, "with the cause for the report").toContain("not allowed");
  });

  it("ignores a connection answer that arrives after the person moved on", async () => {
    let answer: (result: Result<Connection, IpcError>) => void = () => {};
    mocked.connect.mockReturnValue(new Promise((resolve) => (answer = resolve)));
    const gatehouse = new Gatehouse();
    const connecting = gatehouse.connect("alice");
    await gatehouse.chooseProfile();
    answer(ok(connectionFor(alice)));
    await connecting;
    expect(gatehouse.screen.kind, "a stale answer must not replace the screen the person chose").toBe("profiles");
  });

  it("asks for a device PIN, keeps asking after a wrong one, and connects with the right one", async () => {
    mocked.connect
      .mockResolvedValueOnce(
        failed({
          ...deviceError("device_pin_required", "the key of profile alice is on YubiKey (PIV) serial 31000001"),
          detail: "YubiKey (PIV) serial 31000001",
        }),
      )
      .mockResolvedValueOnce(failed(deviceError("device_pin_incorrect", "PIN incorrect", 2)))
      .mockResolvedValueOnce(ok(connectionFor(alice)));
    const gatehouse = new Gatehouse();
    await gatehouse.connect("alice");
    expect(mocked.connect, "first without a PIN").toHaveBeenLastCalledWith("alice", null);
    expect(gatehouse.screen.kind, "the PIN is asked for").toBe("unlock");
    if (gatehouse.screen.kind === "unlock") expect(gatehouse.screen.device, "naming the device").toBe("YubiKey (PIV) serial 31000001");
    await gatehouse.connect("alice", "000000");
    expect(gatehouse.screen.kind, "a wrong PIN asks again").toBe("unlock");
    if (gatehouse.screen.kind === "unlock") expect(gatehouse.screen.error?.triesLeft).toBe(2);
    await gatehouse.connect("alice", "123456");
    expect(mocked.connect).toHaveBeenLastCalledWith("alice", "123456");
    expect(gatehouse.screen.kind, "the right PIN connects").toBe("connected");
  });

  it("says to touch the device while connecting, and asks again after a missed touch", async () => {
    const device = "YubiKey 5.7.1 31000001";
    let answer: (result: Result<Connection, IpcError>) => void = () => {};
    mocked.connect
      .mockResolvedValueOnce(failed({ ...deviceError("device_pin_required", `the key is on ${device}`), detail: device }))
      .mockReturnValueOnce(new Promise((resolve) => (answer = resolve)))
      .mockResolvedValueOnce(ok(connectionFor(alice)));
    const gatehouse = new Gatehouse();
    await gatehouse.connect("alice");
    const connecting = gatehouse.connect("alice", "123456");
    expect(gatehouse.screen, "the connecting screen names the device that signs").toMatchObject({
      kind: "connecting",
      device,
    });
    answer(failed(deviceError("device_touch_timeout", `${device} was not touched in time`)));
    await connecting;
    expect(gatehouse.screen.kind, "a missed touch keeps the PIN dialog up").toBe("unlock");
    if (gatehouse.screen.kind === "unlock") {
      expect(gatehouse.screen.error?.code, "showing what went wrong").toBe("device_touch_timeout");
      expect(gatehouse.screen.device, "still naming the device").toBe(device);
    }
    await gatehouse.connect("alice", "123456");
    expect(gatehouse.screen.kind, "touched the second time, it connects").toBe("connected");
  });

  it("watches the device while connected, and shows the removal when it is pulled", async () => {
    vi.useFakeTimers();
    try {
      mocked.connect.mockResolvedValue(ok(connectionFor(alice)));
      mocked.liveCheck
        .mockResolvedValueOnce(ok(null))
        .mockResolvedValueOnce(failed(deviceError("device_gone", "YubiKey 31000001 is no longer available")));
      const gatehouse = new Gatehouse();
      await gatehouse.connect("alice");
      gatehouse.openAudit("alice", true);
      await vi.advanceTimersByTimeAsync(DEVICE_CHECK_MS);
      expect(mocked.liveCheck, "asked for the connected profile").toHaveBeenCalledWith("alice");
      expect(gatehouse.screen.kind, "present: the person keeps working").toBe("audit");
      await vi.advanceTimersByTimeAsync(DEVICE_CHECK_MS);
      expect(gatehouse.screen, "pulled: the console says so, wherever the person was").toMatchObject({
        kind: "failed",
        profile: "alice",
        error: { code: "device_gone" },
      });
      await vi.advanceTimersByTimeAsync(DEVICE_CHECK_MS * 3);
      expect(mocked.liveCheck, "and stops asking").toHaveBeenCalledTimes(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it("asks once at a time, and ignores an answer about a connection the person has left", async () => {
    vi.useFakeTimers();
    try {
      let answer: (result: Result<null, IpcError>) => void = () => {};
      mocked.connect.mockResolvedValue(ok(connectionFor(alice)));
      mocked.liveCheck.mockReturnValueOnce(new Promise((resolve) => (answer = resolve)));
      const gatehouse = new Gatehouse();
      await gatehouse.connect("alice");
      await vi.advanceTimersByTimeAsync(DEVICE_CHECK_MS * 3);
      expect(mocked.liveCheck, "a slow answer (a touch under way) is not asked over").toHaveBeenCalledOnce();
      await gatehouse.connect("alice");
      answer(failed(deviceError("device_gone", "gone")));
      await vi.advanceTimersByTimeAsync(0);
      expect(gatehouse.screen.kind, "the old answer does not end the new connection").toBe("connected");
    } finally {
      vi.useRealTimers();
    }
  });

  it("stops watching at the profile list", async () => {
    vi.useFakeTimers();
    try {
      mocked.connect.mockResolvedValue(ok(connectionFor(alice)));
      mocked.liveCheck.mockResolvedValue(ok(null));
      const gatehouse = new Gatehouse();
      await gatehouse.connect("alice");
      await gatehouse.chooseProfile();
      await vi.advanceTimersByTimeAsync(DEVICE_CHECK_MS * 3);
      expect(mocked.liveCheck, "nothing is connected, nothing is asked").not.toHaveBeenCalled();
    } finally {
      vi.useRealTimers();
    }
  });

  it("lets go of the connection when the person goes back to the profile list", async () => {
    mocked.connect.mockResolvedValue(ok(connectionFor(alice)));
    const gatehouse = new Gatehouse();
    await gatehouse.connect("alice");
    expect(mocked.disconnect, "connected, nothing is closed").not.toHaveBeenCalled();
    await gatehouse.chooseProfile();
    expect(mocked.disconnect, "the profile list closes the live connection").toHaveBeenCalledOnce();
    expect(gatehouse.screen.kind).toBe("profiles");
  });

  it("opens the Devices screen and returns to where it came from", async () => {
    const gatehouse = new Gatehouse();
    await gatehouse.chooseProfile();
    gatehouse.openDevices();
    expect(gatehouse.screen.kind).toBe("devices");
    gatehouse.closeDevices();
    expect(gatehouse.screen.kind).toBe("profiles");
  });

  it("reconnects with the profile of the current connection", async () => {
    mocked.connect.mockResolvedValue(ok(connectionFor(alice)));
    const gatehouse = new Gatehouse();
    await gatehouse.connect("alice");
    await gatehouse.reconnect();
    expect(mocked.connect, "both calls use the same profile").toHaveBeenNthCalledWith(2, "alice", null);
    expect(gatehouse.screen.kind, "connected again").toBe("connected");
  });

  it("opens the audit explorer and returns to the screen it came from", async () => {
    mocked.connect.mockResolvedValue(ok(connectionFor(alice)));
    const gatehouse = new Gatehouse();
    await gatehouse.connect("alice");
    const connected = gatehouse.screen;
    gatehouse.openAudit("alice", true);
    expect(gatehouse.screen, "online explorer for the profile").toMatchObject({ kind: "audit", profile: "alice", online: true });
    gatehouse.closeAudit();
    expect(gatehouse.screen, "the same connection, not a new one").toBe(connected);
    expect(mocked.connect).toHaveBeenCalledTimes(1);
  });

  it("opens the approvals queue and returns to the same connection", async () => {
    mocked.connect.mockResolvedValue(ok(connectionFor(alice)));
    const gatehouse = new Gatehouse();
    await gatehouse.connect("alice");
    const connected = gatehouse.screen;
    gatehouse.openApprovals("alice");
    expect(gatehouse.screen, "the queue of the connected profile").toMatchObject({ kind: "approvals", profile: "alice" });
    gatehouse.openApprovals("alice");
    gatehouse.closeApprovals();
    expect(gatehouse.screen, "opening it again does not stack a second way back").toBe(connected);
    expect(mocked.connect).toHaveBeenCalledTimes(1);
  });

  it("ignores a connection answer that arrives after the person opened the explorer", async () => {
    let answer: (result: Result<Connection, IpcError>) => void = () => {};
    mocked.connect.mockReturnValue(new Promise((resolve) => (answer = resolve)));
    const gatehouse = new Gatehouse();
    await gatehouse.chooseProfile();
    const connecting = gatehouse.connect("alice");
    gatehouse.openAudit("alice", false);
    answer(ok(connectionFor(alice)));
    await connecting;
    expect(gatehouse.screen.kind, "the explorer stays").toBe("audit");
  });
});
