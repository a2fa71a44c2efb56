import { describe, expect, it } from "vitest";

import type { ErrorCode } from "../../bindings";
import { ERROR_TITLES, errorTitle, unexpectedError } from "./errors";

// Every code the Rust side can send. The type check below fails to compile if a code is added to
// `ErrorCode` without being listed here, so the runtime test covers them all.
const ALL_CODES = [
  "unreachable",
  "server_not_trusted",
  "client_cert_rejected",
  "not_registered",
  "disabled",
  "cert_expired",
  "cert_not_yet_valid",
  "server_too_old",
  "server_too_new",
  "profile_not_found",
  "profile_invalid",
  "secret_store",
  "io",
  "audit_alarm",
  "audit_cache",
  "audit_query",
  "device_pin_incorrect",
  "device_pin_blocked",
  "device_gone",
  "device_not_found",
  "device_refused",
  "device_pin_required",
  "device_touch_timeout",
  "device",
  "refused",
  "do_not_sign",
  "mirror_unreachable",
  "mirror_not_pinned",
  "review_required",
  "internal",
] as const satisfies readonly ErrorCode[];
type Unlisted = Exclude<ErrorCode, (typeof ALL_CODES)[number]>;
const everyCodeListed: [Unlisted] extends [never] ? true : Unlisted = true;

describe("error titles", () => {
  it("gives every error code a non-empty title", () => {
    expect(everyCodeListed, "ALL_CODES must list every ErrorCode").toBe(true);
    for (const code of ALL_CODES) {
      expect(ERROR_TITLES[code]?.trim(), `code ${code} needs a title for the error screen`).toBeTruthy();
    }
    expect(Object.keys(ERROR_TITLES).sort(), "the title map must hold no stale codes").toEqual([...ALL_CODES].sort());
  });

  it("uses the agreed titles", () => {
    const expected: Partial<Record<ErrorCode, string>> = {
      server_not_trusted: "Server certificate not trusted",
      unreachable: "Server unreachable",
      client_cert_rejected: "Client certificate rejected",
      not_registered: "Not registered",
      disabled: "Access disabled",
      cert_expired: "Certificate expired",
      cert_not_yet_valid: "Certificate not yet valid",
      server_too_old: "Server version not supported",
      server_too_new: "Server version not supported",
      profile_not_found: "Profile problem",
      profile_invalid: "Profile problem",
      secret_store: "Keyring unavailable",
      io: "Something went wrong",
      audit_alarm: "Audit trail failed verification",
      audit_cache: "Audit cache problem",
      audit_query: "Audit request not possible",
      do_not_sign: "Do not sign",
      internal: "Something went wrong",
    };
    for (const [code, title] of Object.entries(expected)) {
      expect(errorTitle(code as ErrorCode), `title for ${code} is what the E2E suite looks for`).toBe(title);
    }
  });

  it("falls back to a generic title for a code this UI does not know", () => {
    expect(errorTitle("from_a_newer_server" as ErrorCode), "an unknown code must still get a title").toBe(
      "Something went wrong",
    );
  });

  it("turns an IPC-layer exception into an internal error that keeps the cause as detail", () => {
    const error = unexpectedError(new TypeError("command connect not found"));
    expect(error.code, "exceptions are not Rust-reported failures").toBe("internal");
    expect(error.detail, "the cause must stay visible for a bug report").toContain("command connect not found");
    expect(error.fingerprint, "no server certificate was involved").toBeNull();
  });
});
