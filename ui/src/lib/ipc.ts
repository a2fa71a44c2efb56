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
    return await call();
  } catch (cause) {
    return { status: "error", error: unexpectedError(cause) };
  }
}
