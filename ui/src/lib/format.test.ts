import { describe, expect, it } from "vitest";

import { describeDaysLeft, expiryStatus, formatLocalTime, formatRelative, formatUptime, formatHbar } from "./format";

describe("formatUptime", () => {
  it.each([
    [0, "0 s"],
    [45, "45 s"],
    [60, "1 min"],
    [59 * 60 + 59, "59 min"],
    [3600, "1 h"],
    [3 * 3600 + 12 * 60 + 5, "3 h 12 min"],
    [86400, "1 d"],
    [2 * 86400 + 4 * 3600 + 59 * 60, "2 d 4 h"],
  ])("shows %i seconds as %s", (seconds, expected) => {
    expect(formatUptime(seconds), "uptime is read by people, not parsed").toBe(expected);
  });

  it("never shows a negative or fractional uptime", () => {
    expect(formatUptime(-5), "a clock glitch must not print a negative duration").toBe("0 s");
    expect(formatUptime(59.9), "seconds are whole").toBe("59 s");
  });
});

describe("formatRelative", () => {
  const now = new Date("2026-12-05T08:00:00Z");

  it.each([
    ["2026-12-05T11:12:05Z", "in 3 h 12 min"],
    ["2026-12-05T08:00:30Z", "in under a minute"],
    ["2026-12-05T07:59:30Z", "under a minute ago"],
    ["2026-12-05T07:48:00Z", "12 min ago"],
    ["2026-12-07T12:00:00Z", "in 2 d 4 h"],
  ])("shows %s as %s", (at, expected) => {
    expect(formatRelative(at, now), "a deadline says how soon, or how long ago").toBe(expected);
  });

  it("shows text that is not a time as it came", () => {
    expect(formatRelative("soon", now)).toBe("soon");
  });
});

describe("expiryStatus", () => {
  const now = new Date("2026-05-01T12:00:00Z");

  it("warns when the certificate expires within 14 days", () => {
    expect(expiryStatus("2026-05-04T12:00:00Z", now), "3 days left is inside the warning window").toEqual({
      kind: "expiring",
      daysLeft: 3,
    });
    expect(expiryStatus("2026-05-15T12:00:00Z", now).kind, "exactly 14 days left still warns").toBe("expiring");
  });

  it("does not warn when more than 14 days remain", () => {
    expect(expiryStatus("2026-05-15T12:00:01Z", now).kind, "just over 14 days is fine").toBe("valid");
    expect(expiryStatus("2027-05-01T00:00:00Z", now).kind, "a year ahead is fine").toBe("valid");
  });

  it("reports an expired certificate", () => {
    expect(expiryStatus("2026-05-01T12:00:00Z", now).kind, "expiry at this instant means expired").toBe("expired");
    expect(expiryStatus("2026-04-01T00:00:00Z", now).kind, "a past date is expired").toBe("expired");
  });

  it("does not guess about an unreadable date", () => {
    expect(expiryStatus("not a date", now).kind, "garbage must not be called valid").toBe("unknown");
  });

  it("describes the remaining days in words", () => {
    expect(describeDaysLeft(0), "less than a day left").toBe("within a day");
    expect(describeDaysLeft(1), "singular").toBe("in 1 day");
    expect(describeDaysLeft(9), "plural").toBe("in 9 days");
  });
});

describe("formatLocalTime", () => {
  it("shows the instant in the given zone with the zone's name", () => {
    const text = formatLocalTime("2026-01-15T08:30:00Z", "Europe/Berlin");
    expect(text, "08:30 UTC is 09:30 in Berlin in winter").toContain("09:30");
    expect(text, "the zone must be named so the time is unambiguous").toMatch(/GMT\+1|CET/);
  });

  it("returns an unparseable value unchanged rather than 'Invalid Date'", () => {
    expect(formatLocalTime("soon"), "never hide what Rust sent").toBe("soon");
  });
});

describe("formatHbar", () => {
  it("groups the whole hbar in thousands and keeps every fractional digit", () => {
    expect(formatHbar("50000000000")).toBe("50,000,000,000 ℏ");
    expect(formatHbar("49999.5")).toBe("49,999.5 ℏ");
    expect(formatHbar("0.00000001"), "one tinybar").toBe("0.00000001 ℏ");
    expect(formatHbar("-92233720368.54775808"), "negative, exact").toBe("-92,233,720,368.54775808 ℏ");
    expect(formatHbar("999")).toBe("999 ℏ");
  });
});
