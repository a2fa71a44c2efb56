import { describe, expect, it, vi } from "vitest";

import type { AuditFilter, AuditPage, IpcError } from "../../bindings";
import type { Result } from "../ipc";
import { auditPageOf, failed, ok } from "../../testing/fixtures";
import { NO_FILTER } from "./filter";
import { AuditRows, MAX_WINDOWS, WINDOW } from "./rows.svelte";

type Answer = Result<AuditPage, IpcError>;

/** A fetch whose answers the test releases one by one. */
function manualFetch() {
  const calls: { filter: AuditFilter; offset: number; limit: number; answer: (a: Answer) => void }[] = [];
  const fetch = vi.fn(
    (filter: AuditFilter, offset: number, limit: number) =>
      new Promise<Answer>((resolve) => calls.push({ filter, offset, limit, answer: resolve })),
  );
  return { fetch, calls };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe("AuditRows", () => {
  it("fetches the first window on reset and serves rows by position", async () => {
    const fetch = vi.fn(async (_f: AuditFilter, offset: number, limit: number) => ok(auditPageOf(1000, offset, limit)));
    const rows = new AuditRows(fetch);
    rows.reset(NO_FILTER);
    expect(fetch, "one window from the top").toHaveBeenCalledWith(NO_FILTER, 0, WINDOW);
    expect(rows.total, "unknown until it arrives").toBeNull();
    await flush();
    expect(rows.total).toBe(1000);
    expect(rows.row(0)?.index, "newest first").toBe(999);
    expect(rows.row(WINDOW), "the next window is not here yet").toBeUndefined();
  });

  it("asks only for windows it does not hold or already awaits", async () => {
    const { fetch, calls } = manualFetch();
    const rows = new AuditRows(fetch);
    rows.reset(NO_FILTER);
    rows.ensure(0, WINDOW * 2 - 1);
    rows.ensure(10, WINDOW + 10);
    expect(calls.map((c) => c.offset), "windows 0 and 1, each once").toEqual([0, WINDOW]);
    calls[0]?.answer(ok(auditPageOf(5000, 0, WINDOW)));
    await flush();
    rows.ensure(0, 5);
    expect(fetch, "a held window is not fetched again").toHaveBeenCalledTimes(2);
  });

  it("drops answers for an older filter", async () => {
    const { fetch, calls } = manualFetch();
    const rows = new AuditRows(fetch);
    rows.reset(NO_FILTER);
    const narrowed = { ...NO_FILTER, actor: "alice" };
    rows.reset(narrowed);
    expect(calls.map((c) => c.filter), "both filters asked").toEqual([NO_FILTER, narrowed]);

    calls[1]?.answer(ok(auditPageOf(7, 0, WINDOW)));
    await flush();
    calls[0]?.answer(ok(auditPageOf(1_000_000, 0, WINDOW)));
    await flush();
    expect(rows.total, "the late answer of the old filter is ignored").toBe(7);
    expect(rows.row(0)?.index).toBe(6);
  });

  it("keeps a bounded number of windows, dropping the least recently used", async () => {
    const fetch = vi.fn(async (_f: AuditFilter, offset: number, limit: number) => ok(auditPageOf(1_000_000, offset, limit)));
    const rows = new AuditRows(fetch);
    rows.reset(NO_FILTER);
    await flush();
    for (let w = 1; w <= MAX_WINDOWS + 3; w++) {
      rows.ensure(w * WINDOW, w * WINDOW);
      await flush();
    }
    expect(rows.cachedWindows.length, "bounded").toBe(MAX_WINDOWS);
    expect(rows.cachedWindows, "the oldest went first").not.toContain(0);
    expect(rows.cachedWindows, "the one in view stays").toContain(MAX_WINDOWS + 3);
    rows.ensure(0, 0);
    expect(fetch, "an evicted window is fetched again").toHaveBeenLastCalledWith(NO_FILTER, 0, WINDOW);
  });

  it("stops on a failure until retried", async () => {
    const error: IpcError = { code: "audit_cache", message: "m", hint: "h", detail: null, fingerprint: null, triesLeft: null };
    const fetch = vi.fn(async () => failed<AuditPage>(error));
    const rows = new AuditRows(fetch);
    rows.reset(NO_FILTER);
    await flush();
    expect(rows.error).toEqual(error);
    rows.ensure(0, 0);
    expect(fetch, "no retry storm while failed").toHaveBeenCalledTimes(1);
    fetch.mockImplementation(async () => ok(auditPageOf(3, 0, WINDOW)));
    rows.retry();
    await flush();
    expect(rows.error).toBeNull();
    expect(rows.total).toBe(3);
  });
});
