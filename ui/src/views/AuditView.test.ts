import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("../bindings", () => import("../testing/mock-bindings"));
vi.mock("@tauri-apps/api/core", () => import("../testing/mock-tauri-core"));


import { commands, type AuditFilter, type AuditStatus, type IpcError } from "../bindings";
import { Gatehouse, gatehouseContext } from "../lib/gatehouse.svelte";
import type { Result } from "../lib/ipc";
import { MAX_SPACER, ROW_HEIGHT } from "../lib/audit/virtual";
import {
  auditAlarmed,
  auditFacets,
  auditOk,
  auditPageOf,
  failed,
  failedEntry,
  includedEntry,
  LOG_KEY,
  ok,
  timelineBars,
} from "../testing/fixtures";
import { channels } from "../testing/mock-tauri-core";
import AuditView from "./AuditView.svelte";

const mocked = vi.mocked(commands);

const NONE: AuditFilter = {
  text: null,
  sinceMs: null,
  untilMs: null,
  actor: null,
  action: null,
  outcome: null,
  object: null,
};

/** A cache of `total` entries; `totalFor` lets a filter change how many match. */
function mockCache(total = 12345, totalFor: (filter: AuditFilter) => number = () => total): void {
  mocked.auditStatus.mockResolvedValue(ok(auditOk));
  mocked.auditFacets.mockResolvedValue(ok(auditFacets));
  mocked.auditTimeline.mockResolvedValue(ok(timelineBars));
  mocked.auditPage.mockImplementation(async (_profile, filter, offset, limit) =>
    ok(auditPageOf(totalFor(filter), offset, limit)),
  );
}

function show(online = true) {
  const gatehouse = new Gatehouse();
  const user = userEvent.setup();
  const view = render(AuditView, { props: { profile: "alice", online }, context: gatehouseContext(gatehouse) });
  return { user, gatehouse, view };
}

/** A promise the test settles itself. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function scroller(): HTMLElement {
  const groups = within(screen.getByTestId("audit-table")).getAllByRole("rowgroup");
  const body = groups[1];
  if (!body) throw new Error("the table has no body");
  return body;
}

function renderedRows(): HTMLElement[] {
  return [...screen.queryAllByTestId("audit-row"), ...screen.queryAllByTestId("audit-row-loading")];
}

const unreadable: IpcError = {
  code: "audit_cache",
  message: "The audit cache could not be read.",
  hint: "Check the disk and try again.",
  detail: null,
  fingerprint: null,
  triesLeft: null,
};

beforeEach(() => {
  channels.length = 0;
  mockCache();
});

describe("alarm banner", () => {
  it("appears from status.alarm, names the entry, and stays until a status without alarm", async () => {
    mocked.auditStatus.mockResolvedValue(ok(auditAlarmed));
    const { user } = show();

    const banner = await screen.findByTestId("audit-alarm");
    expect(banner, "the banner interrupts").toHaveAttribute("role", "alert");
    expect(within(banner).getByRole("heading"), "the heading cannot be missed").toHaveTextContent(
      "AUDIT TRAIL FAILED VERIFICATION",
    );
    expect(banner, "Rust's message").toHaveTextContent(auditAlarmed.alarm?.message ?? "");
    expect(banner, "the failing entry is named").toHaveTextContent("entry 4242");
    expect(banner, "the checkpoint size is named").toHaveTextContent("12,345 entries");
    expect(within(banner).getAllByRole("button").map((b) => b.textContent?.trim()), "no way to dismiss it").toEqual([
      "Discard cache…",
    ]);

    // A verification that fails again keeps it.
    mocked.auditVerify.mockResolvedValue(ok(auditAlarmed));
    await user.click(screen.getByTestId("audit-verify"));
    await waitFor(() => expect(mocked.auditVerify).toHaveBeenCalledWith("alice"));
    expect(screen.getByTestId("audit-alarm"), "still alarmed after a failed verification").toBeVisible();

    // A verify that cannot run at all (an IpcError, not a status) does not clear it either.
    mocked.auditVerify.mockResolvedValue(failed(unreadable));
    await user.click(screen.getByTestId("audit-verify"));
    expect(await screen.findByTestId("audit-verify-error"), "the error is shown with its hint").toHaveTextContent(
      unreadable.hint,
    );
    expect(screen.getByTestId("audit-alarm"), "an error is not an all-clear").toBeVisible();

    // A successful verification (a status without alarm) clears it.
    mocked.auditVerify.mockResolvedValue(ok(auditOk));
    await user.click(screen.getByTestId("audit-verify"));
    await waitFor(() => expect(screen.queryByTestId("audit-alarm"), "cleared by a clean status").toBeNull());
    expect(screen.getByTestId("audit-finished"), "the person is told verification passed").toHaveTextContent(
      "Verification passed",
    );
  });

  it("appears when a sync returns an alarmed status", async () => {
    mocked.auditSync.mockResolvedValue(ok(auditAlarmed));
    const { user } = show();
    await screen.findByTestId("audit-total");
    expect(screen.queryByTestId("audit-alarm"), "no alarm before").toBeNull();
    await user.click(screen.getByTestId("audit-sync"));
    expect(await screen.findByTestId("audit-alarm"), "the alarm comes back in the status").toHaveTextContent(
      "entry 4242",
    );
  });

  it("discard requires typing the profile name, explains the key, and clears the alarm", async () => {
    mocked.auditStatus.mockResolvedValue(ok(auditAlarmed));
    mocked.auditDiscard.mockResolvedValue(ok<AuditStatus>({ ...auditOk, size: 0, verifier: null, alarm: null }));
    const { user } = show();
    await user.click(await screen.findByTestId("audit-discard"));

    const dialog = screen.getByRole("dialog");
    expect(dialog, "the consequence is spelled out").toHaveTextContent("forgets the pinned log key");
    expect(dialog, "and the out-of-band check").toHaveTextContent("out of band");
    const confirm = within(dialog).getByRole("button", { name: "Discard cache and forget the key" });
    const typed = within(dialog).getByLabelText("Type alice to confirm");
    expect(confirm, "disabled until the name is typed").toBeDisabled();
    await user.type(typed, "alic");
    expect(confirm, "a partial name is not enough").toBeDisabled();
    await user.type(typed, "e!");
    expect(confirm, "a different name is not enough").toBeDisabled();
    await user.keyboard("{Enter}");
    expect(mocked.auditDiscard, "Enter with the wrong name does nothing").not.toHaveBeenCalled();

    await user.clear(typed);
    await user.type(typed, "alice");
    await user.click(confirm);
    expect(mocked.auditDiscard, "the typed name is the confirmation").toHaveBeenCalledWith("alice", "alice");
    await waitFor(() => expect(screen.queryByRole("dialog"), "closes after discarding").toBeNull());
    expect(screen.queryByTestId("audit-alarm"), "the new status has no alarm").toBeNull();
  });

  it("keeps the dialog open and shows the error when discarding fails", async () => {
    mocked.auditStatus.mockResolvedValue(ok(auditAlarmed));
    mocked.auditDiscard.mockResolvedValue(failed(unreadable));
    const { user } = show();
    await user.click(await screen.findByTestId("audit-discard"));
    await user.keyboard("alice{Enter}");
    const dialog = await screen.findByRole("dialog");
    expect(await within(dialog).findByRole("alert"), "with Rust's hint").toHaveTextContent(unreadable.hint);
    expect(screen.getByTestId("audit-alarm"), "the alarm stands").toBeVisible();
  });
});

describe("header", () => {
  it("shows origin, verified count, the abbreviated log key with its full value on hover, and last sync", async () => {
    show();
    const size = await screen.findByTestId("audit-size");
    await waitFor(() => expect(size, "verified entries with separators").toHaveTextContent("12,345"));
    expect(screen.getByTestId("audit-origin"), "the deployment").toHaveTextContent("gatehouse.local/eu-prod");
    const key = screen.getByTestId("audit-key");
    expect(key.textContent, "abbreviated").toContain("…");
    expect(key.textContent?.length, "shorter than the key").toBeLessThan(LOG_KEY.length);
    expect(key, "full value on hover").toHaveAttribute("title", LOG_KEY);
    expect(screen.getByRole("button", { name: "Copy pinned log key" }), "and copyable").toBeVisible();
    expect(screen.queryByTestId("audit-staged"), "nothing staged").toBeNull();
  });

  it("names staged entries of an interrupted sync", async () => {
    mocked.auditStatus.mockResolvedValue(ok({ ...auditOk, staged: 300 }));
    show();
    expect(await screen.findByTestId("audit-staged"), "staged entries are shown").toHaveTextContent("300 entries");
  });
});

describe("sync", () => {
  it("shows a real progress bar fed by the channel, then the result", async () => {
    const answer = deferred<Result<AuditStatus, IpcError>>();
    mocked.auditSync.mockReturnValue(answer.promise);
    const { user } = show();
    await screen.findByTestId("audit-total");

    await user.click(screen.getByTestId("audit-sync"));
    expect(mocked.auditSync, "sync gets a channel for progress").toHaveBeenCalledWith("alice", channels[0]);
    expect(screen.getByTestId("audit-sync"), "busy while syncing").toBeDisabled();
    expect(screen.getByTestId("audit-verify"), "no verify during a sync").toBeDisabled();

    const channel = channels[0];
    if (!channel) throw new Error("no channel");
    channel.send({ fetched: 250, total: 1000 });
    const bar = await screen.findByTestId("audit-progress");
    await waitFor(() => expect(bar, "progress from the channel").toHaveAttribute("value", "250"));
    expect(bar, "out of the total").toHaveAttribute("max", "1000");
    expect(bar.parentElement, "numbers in words").toHaveTextContent("250 of 1,000");
    channel.send({ fetched: 1000, total: 1000 });
    await waitFor(() => expect(screen.getByTestId("audit-progress")).toHaveAttribute("value", "1000"));

    const pagesBefore = mocked.auditPage.mock.calls.length;
    answer.resolve(ok({ ...auditOk, size: 13345 }));
    await waitFor(() => expect(screen.queryByTestId("audit-progress"), "the bar goes when done").toBeNull());
    expect(screen.getByTestId("audit-finished"), "the result is said").toHaveTextContent("13,345 entries verified");
    expect(screen.getByTestId("audit-size"), "the new size").toHaveTextContent("13,345");
    await waitFor(() =>
      expect(mocked.auditPage.mock.calls.length, "the table reloads the new entries").toBeGreaterThan(pagesBefore),
    );
  });

  it("shows a sync failure inline with its hint", async () => {
    const down: IpcError = {
      code: "unreachable",
      message: "No answer from gatehouse.test:8443.",
      hint: "Check the network, or browse the cache offline.",
      detail: null,
      fingerprint: null,
      triesLeft: null,
    };
    mocked.auditSync.mockResolvedValue(failed(down));
    const { user } = show();
    await user.click(await screen.findByTestId("audit-sync"));
    const error = await screen.findByTestId("audit-sync-error");
    expect(error, "what happened").toHaveTextContent(down.message);
    expect(error, "what to do").toHaveTextContent(down.hint);
  });

  it("is disabled offline with the reason, while verify still works", async () => {
    mocked.auditVerify.mockReturnValue(new Promise(() => {}));
    const { user } = show(false);
    const sync = await screen.findByTestId("audit-sync");
    expect(sync, "no sync without a connection").toBeDisabled();
    expect(screen.getByTestId("audit-offline"), "the reason is shown").toHaveTextContent(
      "Offline: showing the local cache",
    );
    expect(sync, "and tied to the button").toHaveAttribute("aria-describedby", "audit-offline-note");
    const verify = screen.getByTestId("audit-verify");
    await user.click(verify);
    expect(mocked.auditVerify, "verify is offline work").toHaveBeenCalledWith("alice");
    expect(verify, "busy state while verifying").toHaveAttribute("aria-busy", "true");
    expect(verify).toHaveTextContent("Verifying");
  });
});

describe("filters and total", () => {
  it("calls auditPage with the right AuditFilter and shows the total", async () => {
    mockCache(12345, (f) => (f.text ? 42 : f.actor ? 7 : 12345));
    const { user } = show();

    const total = await screen.findByTestId("audit-total");
    await waitFor(() => expect(total, "raw number").toHaveAttribute("data-total", "12345"));
    expect(total, "formatted").toHaveTextContent("12,345 matching entries");
    expect(mocked.auditPage, "first window, unfiltered").toHaveBeenCalledWith("alice", NONE, 0, 200);

    await user.type(screen.getByTestId("audit-search"), "  disable   bob ");
    await waitFor(() =>
      expect(mocked.auditPage, "plain words, single spaces").toHaveBeenLastCalledWith(
        "alice",
        { ...NONE, text: "disable bob" },
        0,
        200,
      ),
    );
    const texts = mocked.auditPage.mock.calls.map((c) => c[1].text);
    expect(new Set(texts), "debounced: no query per keystroke").toEqual(new Set([null, "disable bob"]));
    await waitFor(() => expect(screen.getByTestId("audit-total")).toHaveAttribute("data-total", "42"));
    expect(screen.getByTestId("audit-total")).toHaveTextContent("42 matching entries");
    expect(mocked.auditTimeline, "the timeline follows the filter").toHaveBeenLastCalledWith(
      "alice",
      { ...NONE, text: "disable bob" },
      "hour",
    );

    await user.clear(screen.getByTestId("audit-search"));
    await user.selectOptions(screen.getByTestId("audit-filter-actor"), "alice");
    await user.selectOptions(screen.getByTestId("audit-filter-outcome"), "denied");
    await user.selectOptions(screen.getByTestId("audit-filter-action"), "registry.disable");
    await waitFor(() =>
      expect(mocked.auditPage).toHaveBeenLastCalledWith(
        "alice",
        { ...NONE, actor: "alice", outcome: "denied", action: "registry.disable" },
        0,
        200,
      ),
    );
    await waitFor(() => expect(screen.getByTestId("audit-total")).toHaveTextContent("7 matching entries"));

    await fireEvent.change(screen.getByTestId("audit-filter-since"), { target: { value: "2026-05-01T10:00" } });
    await waitFor(() =>
      expect(mocked.auditPage.mock.lastCall?.[1].sinceMs, "local time to ms").toBe(
        new Date("2026-05-01T10:00").getTime(),
      ),
    );

    await user.click(screen.getByTestId("audit-clear"));
    await waitFor(() => expect(mocked.auditPage, "all filters gone").toHaveBeenLastCalledWith("alice", NONE, 0, 200));
    expect(screen.getByTestId("audit-filter-actor"), "the menus reset").toHaveValue("");
  });

  it("offers the actors, actions and outcomes the cache holds", async () => {
    show();
    const actor = screen.getByTestId("audit-filter-actor");
    await waitFor(() =>
      expect(within(actor).getAllByRole("option").map((o) => o.textContent)).toEqual([
        "All actors",
        "alice",
        "bob",
        "erin",
      ]),
    );
    expect(within(screen.getByTestId("audit-filter-outcome")).getAllByRole("option")).toHaveLength(4);
  });
});

describe("timeline", () => {
  it("draws stacked segments per action and filters to a bucket and action when one is chosen", async () => {
    const { user } = show();
    const chart = await screen.findByTestId("audit-timeline");
    const bars = await within(chart).findAllByTestId("audit-bar");
    expect(bars, "one segment per bucket and action").toHaveLength(3);
    expect(within(chart).getByRole("list", { name: "Actions" }), "a legend names the actions").toHaveTextContent(
      "registry.disable",
    );
    expect(bars.filter((b) => b.getAttribute("tabindex") === "0"), "one tab stop").toHaveLength(1);

    const segment = bars.find((b) => b.dataset.action === "identity.refused");
    if (!segment) throw new Error("no identity.refused segment");
    segment.focus();
    await user.keyboard("{Enter}");
    const start = Date.parse("2026-05-01T06:00:00Z");
    await waitFor(() =>
      expect(mocked.auditPage, "time and action filters from the segment").toHaveBeenLastCalledWith(
        "alice",
        { ...NONE, sinceMs: start, untilMs: start + 3_600_000, action: "identity.refused" },
        0,
        200,
      ),
    );
    expect(screen.getByTestId("audit-filter-action"), "the menu shows it").toHaveValue("identity.refused");
  });

  it("switches to days by itself for a long span and caps the buckets drawn", async () => {
    const day = 86_400_000;
    const first = Date.parse("2025-01-01T00:00:00Z");
    mocked.auditFacets.mockResolvedValue(ok({ ...auditFacets, firstMs: first, lastMs: first + 300 * day }));
    mocked.auditTimeline.mockImplementation(async (_p, _f, bucket) =>
      ok(
        bucket === "day"
          ? Array.from({ length: 300 }, (_, i) => ({ startMs: first + i * day, action: "registry.disable", count: 1 }))
          : [],
      ),
    );
    show();
    const chart = await screen.findByTestId("audit-timeline");
    await waitFor(() => expect(chart, "more than 14 days: per day").toHaveAttribute("data-bucket", "day"));
    expect(mocked.auditTimeline).toHaveBeenLastCalledWith("alice", NONE, "day");
    await waitFor(() => expect(within(chart).getAllByTestId("audit-bar"), "capped").toHaveLength(200));
    expect(within(chart).getByTestId("audit-timeline-capped"), "and says so").toHaveTextContent("100 earlier days");
  });
});

describe("virtualised table", () => {
  it("renders only a window of rows for a million matches and fetches the window scrolled to", async () => {
    mockCache(1_000_000);
    show();
    const table = await screen.findByTestId("audit-table");
    await waitFor(() => expect(screen.getAllByTestId("audit-row").length).toBeGreaterThan(0));
    expect(table, "the total is known").toHaveAttribute("data-total", "1000000");
    expect(renderedRows().length, "a window, not a million rows").toBeLessThan(60);
    expect(screen.getAllByTestId("audit-row")[0], "newest first").toHaveAttribute("data-index", "999999");

    const spacer = scroller().firstElementChild as HTMLElement;
    expect(spacer.style.height, "1M × 28 px is clamped below the browser limit").toBe(`${MAX_SPACER}px`);
    for (const call of mocked.auditPage.mock.calls) expect(call[3], "pages of at most 1000").toBeLessThanOrEqual(1000);

    // To the middle: the real scroll offset is scaled to the virtual one.
    const viewport = 560;
    const ratio = (1_000_000 * ROW_HEIGHT - viewport) / (MAX_SPACER - viewport);
    scroller().scrollTop = Math.ceil((500_000 * ROW_HEIGHT) / ratio);
    await fireEvent.scroll(scroller());
    await waitFor(() =>
      expect(mocked.auditPage, "the window holding row 500,000").toHaveBeenCalledWith("alice", NONE, 500_000, 200),
    );
    await waitFor(() => expect(screen.getByTestId("audit-table").querySelector('[data-index="499999"]')).not.toBeNull());
    expect(renderedRows().length, "still a small window").toBeLessThan(60);

    // To the very end: the oldest entry.
    scroller().scrollTop = MAX_SPACER - viewport;
    await fireEvent.scroll(scroller());
    await waitFor(() => expect(mocked.auditPage).toHaveBeenCalledWith("alice", NONE, 999_800, 200));
    await waitFor(() => expect(screen.getByTestId("audit-table").querySelector('[data-index="0"]')).not.toBeNull());
    expect(renderedRows().length).toBeLessThan(60);
  });

  it("shows placeholder rows while a window loads", async () => {
    mockCache(1_000_000);
    show();
    await waitFor(() => expect(screen.getAllByTestId("audit-row").length).toBeGreaterThan(0));
    const pending = deferred<Result<ReturnType<typeof auditPageOf>, IpcError>>();
    mocked.auditPage.mockReturnValue(pending.promise);
    scroller().scrollTop = 5_000_000;
    await fireEvent.scroll(scroller());
    await waitFor(() => expect(screen.getAllByTestId("audit-row-loading").length).toBeGreaterThan(0));
    expect(screen.queryAllByTestId("audit-row"), "no stale rows in their place").toHaveLength(0);
  });

  it("moves with the keyboard and opens an entry with Enter", async () => {
    mocked.auditEntry.mockResolvedValue(ok(includedEntry));
    const { user } = show();
    await waitFor(() => expect(screen.getAllByTestId("audit-row").length).toBeGreaterThan(0));
    const rows = screen.getAllByTestId("audit-row");
    expect(rows.filter((r) => r.tabIndex === 0), "one tab stop in the table").toHaveLength(1);
    rows[0]?.focus();

    await user.keyboard("{ArrowDown}");
    expect(document.activeElement, "down one").toHaveAttribute("data-index", "12343");
    expect(document.activeElement).toHaveAttribute("aria-selected", "true");
    await user.keyboard("{ArrowDown}{ArrowUp}");
    expect(document.activeElement, "and back up").toHaveAttribute("data-index", "12343");
    await user.keyboard("{PageDown}");
    expect(document.activeElement, "a page down (19 rows in a 560 px viewport)").toHaveAttribute("data-position", "20");

    await user.keyboard("{End}");
    expect(document.activeElement, "End goes to the oldest match").toHaveAttribute("data-position", "12344");
    await waitFor(() => expect(mocked.auditPage, "its window is fetched").toHaveBeenCalledWith("alice", NONE, 12200, 200));
    await waitFor(() => expect(document.activeElement, "and it keeps focus").toHaveAttribute("data-index", "0"));
    await user.keyboard("{Home}");
    expect(document.activeElement, "Home goes to the newest").toHaveAttribute("data-index", "12344");

    await user.keyboard("{ArrowDown}{Enter}");
    expect(mocked.auditEntry, "Enter opens the selected entry").toHaveBeenCalledWith("alice", 12343);
    expect(await screen.findByTestId("audit-detail"), "in the detail pane").toBeVisible();
  });

  it("opens an entry on click", async () => {
    mocked.auditEntry.mockResolvedValue(ok(includedEntry));
    const { user } = show();
    await waitFor(() => expect(screen.getAllByTestId("audit-row").length).toBeGreaterThan(2));
    await user.click(screen.getAllByTestId("audit-row")[2] as HTMLElement);
    expect(mocked.auditEntry).toHaveBeenCalledWith("alice", 12342);
  });

  it("shows a failed page read with its hint and tries again", async () => {
    mocked.auditPage.mockResolvedValue(failed(unreadable));
    const { user } = show();
    const error = await screen.findByTestId("audit-table-error");
    expect(error).toHaveTextContent(unreadable.hint);
    mocked.auditPage.mockImplementation(async (_p, _f, offset, limit) => ok(auditPageOf(30, offset, limit)));
    await user.click(within(error).getByRole("button", { name: "Try again" }));
    await waitFor(() => expect(screen.getByTestId("audit-total")).toHaveAttribute("data-total", "30"));
  });
});

describe("entry detail", () => {
  it("shows an included proof with root and path, and closes with Escape", async () => {
    mocked.auditEntry.mockResolvedValue(ok(includedEntry));
    const { user, gatehouse } = show();
    const back = vi.spyOn(gatehouse, "closeAudit");
    await waitFor(() => expect(screen.getAllByTestId("audit-row").length).toBeGreaterThan(0));
    await user.click(screen.getAllByTestId("audit-row")[0] as HTMLElement);

    const detail = await screen.findByTestId("audit-detail");
    const proof = await within(detail).findByTestId("audit-proof");
    expect(proof).toHaveAttribute("data-status", "included");
    expect(proof).toHaveTextContent("Included in signed checkpoint of 12,345 entries");
    expect(proof, "the root").toHaveTextContent("cm9vdGhhc2g=");
    expect(within(proof).getByText(/Audit path: 3 hashes/), "path length").toBeVisible();
    expect(proof.querySelector("details"), "the path is collapsed").not.toHaveAttribute("open");
    expect(within(detail).getByTestId("audit-detail-json").tagName, "details JSON in a pre").toBe("PRE");
    expect(detail, "commitment tags").toHaveTextContent("client_ip");
    expect(detail, "leaf hash").toHaveTextContent("bGVhZmhhc2g=");
    expect(detail, "request id").toHaveTextContent("req-7f3a");
    expect(mocked.auditStatus, "no status refresh for a good proof").toHaveBeenCalledTimes(1);

    await user.keyboard("{Escape}");
    expect(screen.queryByTestId("audit-detail"), "Escape closes the pane").toBeNull();
    expect(back, "and does not leave the explorer").not.toHaveBeenCalled();
    await user.keyboard("{Escape}");
    expect(back, "a second Escape goes back").toHaveBeenCalledOnce();
  });

  it("shows a failed proof in red and refreshes the status so the alarm appears", async () => {
    mocked.auditEntry.mockResolvedValue(ok(failedEntry));
    const { user } = show();
    await waitFor(() => expect(screen.getAllByTestId("audit-row").length).toBeGreaterThan(0));
    expect(screen.queryByTestId("audit-alarm")).toBeNull();
    mocked.auditStatus.mockResolvedValue(ok(auditAlarmed));

    await user.click(screen.getAllByTestId("audit-row")[0] as HTMLElement);
    const proof = await screen.findByTestId("audit-proof");
    expect(proof).toHaveAttribute("data-status", "failed");
    expect(proof, "the reason").toHaveTextContent("computed root differs");
    expect(await screen.findByTestId("audit-alarm"), "the raised alarm shows at once").toHaveTextContent("entry 4242");
    expect(mocked.auditStatus, "status read again").toHaveBeenCalledTimes(2);
  });
});

describe("export", () => {
  const KEY = `age1${"q".repeat(29)}${"0123456789".repeat(2)}${"abcdefghi"}`;

  async function openExport() {
    const { user } = show();
    await waitFor(() => expect(screen.getByTestId("audit-total")).toHaveAttribute("data-total", "12345"));
    await user.click(screen.getByTestId("audit-export"));
    const dialog = screen.getByRole("dialog", { name: "Export audit entries" });
    return { user, dialog };
  }

  it("validates age recipients before asking Rust to export", async () => {
    expect(KEY, "the test key has the right shape").toMatch(/^age1[0-9a-z]{58}$/);
    mocked.auditExport.mockResolvedValue(ok({ count: 12345, file: "out.age" }));
    const { user, dialog } = await openExport();
    expect(dialog, "says what is exported").toHaveTextContent("12,345 entries");

    const recipients = within(dialog).getByTestId("audit-export-recipients");
    await user.type(recipients, `${KEY}\nage1notakey`);
    await user.click(within(dialog).getByTestId("audit-export-submit"));
    expect(within(dialog).getByTestId("audit-export-problem"), "names the bad line").toHaveTextContent(
      "Line 2 is not an age public key",
    );
    expect(recipients, "marked invalid").toHaveAttribute("aria-invalid", "true");
    expect(mocked.auditExport, "Rust is not asked (and shows no save dialog)").not.toHaveBeenCalled();

    await user.clear(recipients);
    await user.type(recipients, `${KEY}\n\n`);
    await user.click(within(dialog).getByTestId("audit-export-submit"));
    await waitFor(() =>
      expect(mocked.auditExport, "no path: Rust asks where to save").toHaveBeenCalledWith("alice", NONE, "all entries", {
        kind: "bundleRecipients",
        recipients: [KEY],
      }),
    );
    expect(await within(dialog).findByTestId("audit-export-done"), "the count and the file's name").toHaveTextContent(
      "Exported 12,345 entries to out.age",
    );
  });

  it("requires a long, matching passphrase and clears it after use", async () => {
    mocked.auditExport.mockResolvedValue(ok({ count: 12345, file: "out.age" }));
    const { user, dialog } = await openExport();
    await user.click(within(dialog).getByLabelText(/Encrypted bundle with a passphrase/));
    const pass = within(dialog).getByTestId("audit-export-passphrase");
    const again = within(dialog).getByTestId("audit-export-passphrase-confirm");
    const submit = within(dialog).getByTestId("audit-export-submit");

    await user.type(pass, "short");
    await user.type(again, "short");
    await user.click(submit);
    expect(within(dialog).getByTestId("audit-export-problem")).toHaveTextContent("at least 12 characters");

    await user.clear(pass);
    await user.clear(again);
    await user.type(pass, "correct horse battery");
    await user.type(again, "correct horse battery!");
    await user.click(submit);
    expect(within(dialog).getByTestId("audit-export-problem")).toHaveTextContent("do not match");
    expect(mocked.auditExport).not.toHaveBeenCalled();

    await user.clear(again);
    await user.type(again, "correct horse battery");
    await user.click(submit);
    await waitFor(() =>
      expect(mocked.auditExport).toHaveBeenCalledWith("alice", NONE, "all entries", {
        kind: "bundlePassphrase",
        passphrase: "correct horse battery",
      }),
    );
    expect(pass, "cleared after use").toHaveValue("");
    expect(again, "both").toHaveValue("");
  });

  it("requires acknowledging the warning for plain CSV", async () => {
    mocked.auditExport.mockResolvedValue(ok({ count: 12345, file: "out.csv" }));
    const { user, dialog } = await openExport();
    await user.click(within(dialog).getByLabelText(/Plain CSV/));
    expect(within(dialog).getByTestId("audit-export-warning"), "the warning").toHaveTextContent(
      "unencrypted, no proofs, anyone who gets the file can read it",
    );
    const submit = within(dialog).getByTestId("audit-export-submit");
    expect(submit, "not without the acknowledgement").toBeDisabled();
    await user.click(within(dialog).getByTestId("audit-export-ack"));
    expect(submit).toBeEnabled();
    await user.click(submit);
    await waitFor(() =>
      expect(mocked.auditExport).toHaveBeenCalledWith("alice", NONE, "all entries", {
        kind: "csv",
      }),
    );
  });

  it("exports the filtered entries with a description, and shows a failure with its hint", async () => {
    const ioError: IpcError = {
      code: "io",
      message: "Cannot create /home/dave/out.json: File exists",
      hint: "Choose a new file name in a folder you can write to; exports never overwrite.",
      detail: null,
      fingerprint: null,
      triesLeft: null,
    };
    mocked.auditExport.mockResolvedValue(failed(ioError));
    const { user } = show();
    await user.selectOptions(await screen.findByTestId("audit-filter-actor"), "alice");
    await user.click(screen.getByTestId("audit-export"));
    const dialog = screen.getByRole("dialog");
    await user.click(within(dialog).getByLabelText(/Plain JSON/));
    await user.click(within(dialog).getByTestId("audit-export-ack"));
    await user.click(within(dialog).getByTestId("audit-export-submit"));
    const error = await within(dialog).findByTestId("audit-export-error");
    expect(error, "message").toHaveTextContent(ioError.message);
    expect(error, "hint").toHaveTextContent(ioError.hint);
    expect(mocked.auditExport).toHaveBeenCalledWith(
      "alice",
      { ...NONE, actor: "alice" },
      'actor is "alice"',
      { kind: "json" },
    );
  });

  it("stays open, reporting nothing, when the save dialog is cancelled", async () => {
    mocked.auditExport.mockResolvedValue(ok(null));
    const { user, dialog } = await openExport();
    await user.click(within(dialog).getByLabelText(/Plain CSV/));
    await user.click(within(dialog).getByTestId("audit-export-ack"));
    await user.click(within(dialog).getByTestId("audit-export-submit"));
    await waitFor(() => expect(mocked.auditExport).toHaveBeenCalled());
    expect(within(dialog).queryByTestId("audit-export-done"), "nothing was exported").toBeNull();
    expect(within(dialog).queryByTestId("audit-export-error"), "and nothing failed").toBeNull();
    expect(within(dialog).getByTestId("audit-export-submit"), "the person can try again").toBeEnabled();
  });

  it("is a modal: focus starts and stays inside, Escape closes it without leaving the explorer", async () => {
    const { user, dialog } = await openExport();
    expect(dialog, "modal").toHaveAttribute("aria-modal", "true");
    expect(dialog.contains(document.activeElement), "focus moved in").toBe(true);
    expect(document.activeElement, "to the first choice").toHaveAttribute("value", "recipients");
    for (let i = 0; i < 12; i++) {
      await user.tab();
      expect(dialog.contains(document.activeElement), "Tab stays inside").toBe(true);
    }
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog"), "closed").toBeNull();
    expect(screen.getByTestId("audit-table"), "still in the explorer").toBeVisible();
    expect(screen.getByTestId("audit-export"), "focus returns to the button").toHaveFocus();
  });
});
