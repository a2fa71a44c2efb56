// A stand-in for `@tauri-apps/api/core` in unit tests: a Channel the test can push messages through.
// Use it with `vi.mock("@tauri-apps/api/core", () => import("<path>/testing/mock-tauri-core"))`.
import { vi } from "vitest";

/** Every channel created since the last `channels.length = 0`, oldest first. */
export const channels: Channel<unknown>[] = [];

export class Channel<T> {
  onmessage: (message: T) => void = () => {};

  constructor(onmessage?: (message: T) => void) {
    if (onmessage) this.onmessage = onmessage;
    channels.push(this as Channel<unknown>);
  }

  /** What Rust's `progress.send(…)` would deliver. */
  send(message: T): void {
    this.onmessage(message);
  }
}

export const invoke = vi.fn();
