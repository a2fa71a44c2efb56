// A stand-in for the generated bindings module in unit tests: every command is a vi.fn().
// Use it with `vi.mock("<path>/bindings", () => import("<path>/testing/mock-bindings"))`.
import { vi } from "vitest";

export const commands = {
  profileList: vi.fn(),
  profileChooseFile: vi.fn(),
  profileAdd: vi.fn(),
  profileImport: vi.fn(),
  profileRemove: vi.fn(),
  startupProfile: vi.fn(),
  connect: vi.fn(),
  disconnect: vi.fn(),
  ledgerStatus: vi.fn(),
  liveCheck: vi.fn(),
  deviceScan: vi.fn(),
  deviceOpen: vi.fn(),
  deviceGenerate: vi.fn(),
  deviceChangePin: vi.fn(),
  deviceUnblockPin: vi.fn(),
  auditStatus: vi.fn(),
  auditSync: vi.fn(),
  auditVerify: vi.fn(),
  auditPage: vi.fn(),
  auditTimeline: vi.fn(),
  auditFacets: vi.fn(),
  auditEntry: vi.fn(),
  auditExport: vi.fn(),
  auditDiscard: vi.fn(),
};
