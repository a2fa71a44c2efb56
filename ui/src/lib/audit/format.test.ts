import { describe, expect, it } from "vitest";

import { abbreviate, countOf, formatBucket, formatCount, formatUtc, fromLocalInput, toLocalInput } from "./format";

describe("audit formats", () => {
  it("groups thousands", () => {
    expect(formatCount(12345)).toBe("12,345");
    expect(formatCount(1_000_000)).toBe("1,000,000");
    expect(countOf(1, "matching entry", "matching entries")).toBe("1 matching entry");
    expect(countOf(12345, "matching entry", "matching entries")).toBe("12,345 matching entries");
  });

  it("shows UTC with milliseconds for the hover title", () => {
    expect(formatUtc("2026-05-01T08:03:12.345Z")).toBe("2026-05-01 08:03:12.345 UTC");
    expect(formatUtc(null)).toBe("");
  });

  it("round-trips datetime-local values", () => {
    const ms = new Date(2026, 4, 1, 10, 0).getTime();
    expect(toLocalInput(ms)).toBe("2026-05-01T10:00");
    expect(fromLocalInput("2026-05-01T10:00")).toBe(ms);
    expect(fromLocalInput("")).toBeNull();
    expect(fromLocalInput("yesterday")).toBeNull();
  });

  it("labels day buckets as UTC days", () => {
    expect(formatBucket(Date.parse("2026-05-01T00:00:00Z"), "day")).toBe("2026-05-01 (UTC day)");
  });

  it("abbreviates long keys from both ends and leaves short ones", () => {
    const key = `gatehouse.local/dev+${"a".repeat(40)}+XYZ12345`;
    const short = abbreviate(key);
    expect(short.startsWith("gatehouse.local/dev+")).toBe(true);
    expect(short.endsWith("XYZ12345")).toBe(true);
    expect(short).toContain("…");
    expect(abbreviate("short")).toBe("short");
  });
});
