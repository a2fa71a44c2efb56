// One way to call a Rust command: every outcome, even an IPC-layer exception, comes back as a Result.
import type { IpcError } from "../bindings";
import { unexpectedError } from "./errors/errors";

/** What every generated command resolves to (tauri-specta's shape, which it does not export by name). */
export type Result<T, E> = { status: "ok"; data: T } | { status: "error"; error: E };

/** Runs a generated command and folds a thrown exception into an `internal` IpcError. */
export async function settle<T>(
  call: () => Promise<Result<T, IpcError>>,
): Promise<Result<T, IpcError>> {
  try {
    const result = await call();
    // tauri-specta passes a rejection that is not ours (a command the window may not call, a
    // serialisation failure) through as the error itself, often a bare string: give it our shape.
    if (result.status === "error" && !isIpcError(result.error)) {
      return { status: "error", error: unexpectedError(result.error) };
    }
    return result;
  } catch (cause) {
    return { status: "error", error: unexpectedError(cause) };
  }
}

function isIpcError(value: unknown): value is IpcError {
  return typeof value === "object" && value !== null && "code" in value && "message" in value && "hint" in value;
}
