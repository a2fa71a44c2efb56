// How each IPC failure code is presented: the one place that maps codes to titles.
import type { ErrorCode, IpcError } from "../../bindings";

/** Screen title per failure code. A `Record` so the compiler refuses a new code without a title. */
export const ERROR_TITLES: Record<ErrorCode, string> = {
  unreachable: "Server unreachable",
  server_not_trusted: "Server certificate not trusted",
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
  device_pin_incorrect: "Wrong PIN",
  device_pin_blocked: "PIN blocked",
  device_gone: "Device removed",
  device_not_found: "Device not found",
  device_refused: "Not allowed on this device",
  device_pin_required: "Device PIN needed",
  device_touch_timeout: "YubiKey not touched",
  device: "Device problem",
  refused: "Refused by the server",
  do_not_sign: "Do not sign",
  mirror_unreachable: "Mirror node unreachable",
  mirror_not_pinned: "No mirror node pinned",
  review_required: "Review needed",
  internal: "Something went wrong",
};

/** Title for a failure code; an unknown code (newer Rust than this UI) still gets a sensible title. */
export function errorTitle(code: ErrorCode): string {
  return ERROR_TITLES[code] ?? ERROR_TITLES.internal;
}

/**
 * Turns an exception thrown by the IPC layer itself (a missing command, a serialisation bug) into the same
 * shape as a failure reported by Rust, so every screen has one error path. Rust's own failures never take
 * this path: they arrive as `{ status: "error" }`.
 */
export function unexpectedError(cause: unknown): IpcError {
  return {
    code: "internal",
    message: "The console could not complete the request.",
    hint: "Try again. If it keeps happening, restart Gatehouse and report the technical detail below.",
    detail: cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause),
    fingerprint: null,
    triesLeft: null,
  };
}
