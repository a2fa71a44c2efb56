import { describe, expect, it } from "vitest";

import { checkPassphrase, exportRequest, parseRecipients } from "./export";

const KEY = `age1${"x".repeat(58)}`;
const KEY2 = `age1${"7".repeat(58)}`;

describe("parseRecipients", () => {
  it("accepts age keys one per line, ignoring blank lines and duplicates", () => {
    expect(parseRecipients(`${KEY}\n\n  ${KEY2}  \n${KEY}\n`)).toEqual({ recipients: [KEY, KEY2], error: null });
  });

  it.each([
    ["", "at least one"],
    [`${KEY}\nage1short`, "Line 2 is not"],
    [`AGE1${"x".repeat(58)}`, "Line 1 is not"],
    [`${KEY}x`, "Line 1 is not"],
    [`age1${"X".repeat(58)}`, "Line 1 is not"],
    [`ssh-ed25519 AAAA\nage1nope`, "Line 1, 2 are not"],
  ])("refuses %j", (text, message) => {
    const parsed = parseRecipients(text);
    expect(parsed.recipients).toEqual([]);
    expect(parsed.error).toContain(message);
  });
});

describe("checkPassphrase", () => {
  it("wants 12 characters, counted as characters", () => {
    expect(checkPassphrase("elevenchars", "elevenchars")).toContain("at least 12");
    expect(checkPassphrase("twelve chars", "twelve chars")).toBeNull();
    expect(checkPassphrase("🔑".repeat(12), "🔑".repeat(12)), "12 emoji are 12 characters").toBeNull();
  });

  it("wants both fields equal", () => {
    expect(checkPassphrase("twelve chars", "twelve chars ")).toContain("do not match");
  });
});

describe("exportRequest", () => {
  it("builds the tagged request Rust expects", () => {
    expect(exportRequest("recipients", [KEY], "")).toEqual({ kind: "bundleRecipients", recipients: [KEY] });
    expect(exportRequest("passphrase", [], "pw")).toEqual({ kind: "bundlePassphrase", passphrase: "pw" });
    expect(exportRequest("csv", [KEY], "pw"), "plain exports carry no secrets").toEqual({ kind: "csv" });
    expect(exportRequest("json", [], "")).toEqual({ kind: "json" });
  });
});
