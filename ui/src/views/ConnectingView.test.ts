import { render, screen } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";

import ConnectingView from "./ConnectingView.svelte";

describe("ConnectingView", () => {
  it("names the server and profile, and says nothing of devices for a key file", () => {
    render(ConnectingView, { profile: "alice", serverUrl: "https://gatehouse.local:8443" });
    expect(screen.getByRole("status")).toHaveTextContent("Connecting to https://gatehouse.local:8443 as profile alice…");
    expect(screen.queryByTestId("touch-prompt")).toBeNull();
  });

  it("tells the officer to touch the device that signs the handshake", () => {
    render(ConnectingView, { profile: "alice", serverUrl: null, device: "YubiKey 5.7.1 31000001" });
    const prompt = screen.getByTestId("touch-prompt");
    expect(prompt, "naming the device").toHaveTextContent("YubiKey 5.7.1 31000001");
    expect(prompt, "and what to do, inside the announced status").toHaveTextContent("If it blinks, touch it now");
    expect(screen.getByRole("status")).toContainElement(prompt);
  });
});
