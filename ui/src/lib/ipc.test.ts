import { describe, expect, it } from "vitest";

import type { IpcError } from "../bindings";
import { settle } from "./ipc";

describe("settle", () => {
  it("gives a rejection that is not ours (a bare string from Tauri) the IpcError shape", async () => {
    const result = await settle(async () => ({
      status: "error" as const,
      error: "device_scan not allowed. Command not found" as unknown as IpcError,
    }));
    expect(result.status).toBe("error");
    if (result.status !== "error") return;
    expect(result.error.code, "an internal error, not a blank one").toBe("internal");
    expect(result.error.message).not.toBe("");
    expect(result.error.detail, "with the original text for the report").toContain("not allowed");
  });
});
