import { describe, expect, it } from "vitest";

import { checkServerUrl, emptyDraft, parseDraft, type ProfileDraft } from "./draft";

const complete: ProfileDraft = {
  name: " alice ",
  serverUrl: "https://gatehouse.test:8443 ",
  caCert: { ticket: 1, name: "ca.pem" },
  clientCert: { ticket: 2, name: "alice.pem" },
  clientKey: { ticket: 3, name: "alice.key" },
  environment: "staging",
};

describe("parseDraft", () => {
  it("builds the profile for Rust from a complete draft", () => {
    const parsed = parseDraft(complete, "s3cret");
    expect(parsed.ok, "a complete draft must parse").toBe(true);
    if (!parsed.ok) return;
    expect(parsed.profile, "names and URLs are trimmed; files go as Rust's tickets").toEqual({
      name: "alice",
      serverUrl: "https://gatehouse.test:8443",
      caCert: 1,
      clientCert: 2,
      clientKey: 3,
      keyPassphrase: "s3cret",
      environment: "staging",
    });
  });

  it("sends no passphrase when none was typed", () => {
    const parsed = parseDraft(complete, "");
    expect(parsed.ok && parsed.profile.keyPassphrase, "an empty passphrase means an unencrypted key").toBeNull();
  });

  it("reports every empty required field", () => {
    const parsed = parseDraft(emptyDraft(), "");
    expect(parsed.ok, "an empty form must not be sent").toBe(false);
    if (parsed.ok) return;
    expect(Object.keys(parsed.errors).sort(), "each required field says what is missing").toEqual(
      ["caCert", "clientCert", "clientKey", "environment", "name", "serverUrl"].sort(),
    );
  });

  it("rejects a whitespace-only name", () => {
    const parsed = parseDraft({ ...complete, name: "   " }, "");
    expect(!parsed.ok && parsed.errors.name, "blank names cannot be told apart").toBeTruthy();
  });
});

describe("checkServerUrl", () => {
  it.each([
    ["http://gatehouse.test", /https:\/\//],
    ["gatehouse.test:8443", /https:\/\//],
    ["ftp://gatehouse.test", /https:\/\//],
    ["https://", /valid address|host/],
    ["https://user:pw@gatehouse.test", /user name or password/],
    ["https://gatehouse.test/?x=1", /query/],
  ])("rejects %s", (value, message) => {
    expect(checkServerUrl(value), `${value} must not be accepted as a server address`).toMatch(message);
  });

  it.each(["https://gatehouse.test", "https://10.0.0.5:8443", "https://[::1]:8443", "HTTPS://gatehouse.test/api"])(
    "accepts %s",
    (value) => {
      expect(checkServerUrl(value), `${value} is a valid https address`).toBeNull();
    },
  );
});
