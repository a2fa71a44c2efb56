// The audit explorer's state for one profile: cache status (and its alarm), filter, rows, timeline, the
// long-running sync and verify, one open entry, export and discard. Components render it; it calls Rust.
import { Channel } from "@tauri-apps/api/core";

import {
  commands,
  type AuditEntry,
  type AuditFacets,
  type AuditFilter,
  type AuditStatus,
  type ExportDone,
  type ExportRequest,
  type IpcError,
  type SyncProgress,
  type TimelineBar,
  type TimelineBucket,
} from "../../bindings";
import { settle, type Result } from "../ipc";
import { describeFilter, emptyDraft, NO_FILTER, sameFilter, toFilter, type FilterDraft } from "./filter";
import { BUCKET_MS, toLocalInput } from "./format";
import { AuditRows } from "./rows.svelte";
import { autoBucket } from "./timeline";

/** Typing in the search and object fields applies after this pause, ms. */
export const TYPING_DELAY = 250;

export type EntryState = {
  index: number;
  loading: boolean;
  entry: AuditEntry | null;
  error: IpcError | null;
};

/** The last long operation that finished well, for the "done" note beside the buttons. */
export type Finished = { kind: "synced" | "verified" | "discarded"; size: number };

export class AuditExplorer {
  readonly profile: string;
  /** Opened from a live connection: sync is offered. Offline shows the local cache only. */
  readonly online: boolean;

  status = $state.raw<AuditStatus | null>(null);
  statusError = $state.raw<IpcError | null>(null);
  /** The standing verification alarm: shown until a later status has none. */
  readonly alarm = $derived(this.status?.alarm ?? null);

  facets = $state.raw<AuditFacets | null>(null);
  facetsError = $state.raw<IpcError | null>(null);

  /** What the filter inputs hold. */
  draft = $state<FilterDraft>(emptyDraft());
  /** The filter in effect (the table, total, timeline and export all use this one). */
  filter = $state.raw<AuditFilter>(NO_FILTER);

  readonly rows: AuditRows;

  bucketChoice = $state<"auto" | TimelineBucket>("auto");
  readonly bucket = $derived<TimelineBucket>(
    this.bucketChoice === "auto" ? autoBucket(this.filter, this.facets) : this.bucketChoice,
  );
  timeline = $state.raw<{ bucket: TimelineBucket; bars: TimelineBar[] } | null>(null);
  timelineError = $state.raw<IpcError | null>(null);
  timelineLoading = $state(false);

  busy = $state<"sync" | "verify" | null>(null);
  progress = $state.raw<SyncProgress | null>(null);
  syncError = $state.raw<IpcError | null>(null);
  verifyError = $state.raw<IpcError | null>(null);
  finished = $state.raw<Finished | null>(null);

  detail = $state.raw<EntryState | null>(null);

  #typing: ReturnType<typeof setTimeout> | undefined;
  #timelineGeneration = 0;
  #statusGeneration = 0;
  #disposed = false;

  constructor(profile: string, online: boolean) {
    this.profile = profile;
    this.online = online;
    this.rows = new AuditRows((filter, offset, limit) =>
      settle(() => commands.auditPage(this.profile, filter, offset, limit)),
    );
  }

  /** First load: status, filter menus, the first rows and the timeline. */
  async load(): Promise<void> {
    this.rows.reset(this.filter);
    await Promise.all([this.refreshStatus(), this.#loadFacets()]);
    await this.loadTimeline();
  }

  dispose(): void {
    this.#disposed = true;
    clearTimeout(this.#typing);
  }

  /** Reads the cache status again (no network): after a failed proof, the alarm it raised shows up. */
  async refreshStatus(): Promise<void> {
    const generation = ++this.#statusGeneration;
    const result = await settle(() => commands.auditStatus(this.profile));
    if (generation !== this.#statusGeneration || this.#disposed) return;
    if (result.status === "ok") {
      this.#setStatus(result.data);
      this.statusError = null;
    } else {
      this.statusError = result.error;
    }
  }

  #setStatus(status: AuditStatus): void {
    // A newer status supersedes any read still on its way.
    this.#statusGeneration += 1;
    this.status = status;
  }

  async #loadFacets(): Promise<void> {
    const result = await settle(() => commands.auditFacets(this.profile));
    if (this.#disposed) return;
    if (result.status === "ok") {
      this.facets = result.data;
      this.facetsError = null;
    } else {
      this.facetsError = result.error;
    }
  }

  async loadTimeline(): Promise<void> {
    const generation = ++this.#timelineGeneration;
    const filter = this.filter;
    const bucket = this.bucket;
    this.timelineLoading = true;
    const result = await settle(() => commands.auditTimeline(this.profile, filter, bucket));
    if (generation !== this.#timelineGeneration || this.#disposed) return;
    this.timelineLoading = false;
    if (result.status === "ok") {
      this.timeline = { bucket, bars: result.data };
      this.timelineError = null;
    } else {
      this.timelineError = result.error;
    }
  }

  // ---- filter ----

  /** Applies the inputs now (menus, times, Enter in a text field). True when the filter changed. */
  applyNow(): boolean {
    clearTimeout(this.#typing);
    this.#typing = undefined;
    const next = toFilter(this.draft);
    if (sameFilter(next, this.filter)) return false;
    this.filter = next;
    this.rows.reset(next);
    void this.loadTimeline();
    return true;
  }

  /** Applies the inputs after a pause in typing. */
  applySoon(): void {
    clearTimeout(this.#typing);
    this.#typing = setTimeout(() => this.applyNow(), TYPING_DELAY);
  }

  clearFilters(): void {
    const bucket = this.bucket;
    this.draft = emptyDraft();
    this.bucketChoice = "auto";
    if (!this.applyNow() && this.bucket !== bucket) void this.loadTimeline();
  }

  setBucket(choice: "auto" | TimelineBucket): void {
    if (choice === this.bucketChoice) return;
    this.bucketChoice = choice;
    void this.loadTimeline();
  }

  /** A timeline segment: the bucket's time range and, when given, its action. */
  selectBucket(startMs: number, bucket: TimelineBucket, action: string | null): void {
    this.draft.since = toLocalInput(startMs);
    this.draft.until = toLocalInput(startMs + BUCKET_MS[bucket]);
    if (action !== null) this.draft.action = action;
    this.applyNow();
  }

  /** The start is after the end: nothing can match. */
  get rangeInverted(): boolean {
    const { sinceMs, untilMs } = this.filter;
    return sinceMs !== null && untilMs !== null && sinceMs >= untilMs;
  }

  /** The filter in words, as written into an export. */
  get selection(): string {
    return describeFilter(this.filter);
  }

  // ---- sync, verify, discard ----

  /** Fetches and verifies new entries; `progress` follows the channel. Online only. */
  async sync(): Promise<void> {
    if (!this.online || this.busy !== null) return;
    this.busy = "sync";
    this.progress = null;
    this.syncError = null;
    this.verifyError = null;
    this.finished = null;
    const channel = new Channel<SyncProgress>();
    channel.onmessage = (progress) => {
      if (this.busy === "sync") this.progress = progress;
    };
    const result = await settle(() => commands.auditSync(this.profile, channel));
    this.busy = null;
    this.progress = null;
    if (this.#disposed) return;
    if (result.status === "ok") {
      this.#setStatus(result.data);
      if (!result.data.alarm) this.finished = { kind: "synced", size: result.data.size ?? 0 };
      await this.#reloadData();
    } else {
      this.syncError = result.error;
      if (result.error.code === "audit_alarm") await this.refreshStatus();
    }
  }

  /** Re-verifies the whole cache offline. */
  async verify(): Promise<void> {
    if (this.busy !== null) return;
    this.busy = "verify";
    this.syncError = null;
    this.verifyError = null;
    this.finished = null;
    const result = await settle(() => commands.auditVerify(this.profile));
    this.busy = null;
    if (this.#disposed) return;
    if (result.status === "ok") {
      this.#setStatus(result.data);
      if (!result.data.alarm) this.finished = { kind: "verified", size: result.data.size ?? 0 };
    } else {
      this.verifyError = result.error;
      if (result.error.code === "audit_alarm") await this.refreshStatus();
    }
  }

  /** Forgets the cache and its pinned key; `confirm` must be the profile's name. */
  async discard(confirm: string): Promise<Result<AuditStatus, IpcError>> {
    const result = await settle(() => commands.auditDiscard(this.profile, confirm));
    if (result.status === "ok" && !this.#disposed) {
      this.#setStatus(result.data);
      this.detail = null;
      this.syncError = null;
      this.verifyError = null;
      this.finished = { kind: "discarded", size: result.data.size ?? 0 };
      await this.#reloadData();
    }
    return result;
  }

  /** After the cache changed: menus, rows (same filter, from the top) and timeline again. */
  async #reloadData(): Promise<void> {
    this.rows.reset(this.filter);
    await this.#loadFacets();
    await this.loadTimeline();
  }

  // ---- one entry ----

  /** Opens entry `index` with its proof; a failed proof raises the alarm, so the status is read again. */
  async openEntry(index: number): Promise<void> {
    this.detail = { index, loading: true, entry: null, error: null };
    const result = await settle(() => commands.auditEntry(this.profile, index));
    if (this.detail?.index !== index || this.#disposed) return;
    if (result.status === "ok") {
      this.detail = { index, loading: false, entry: result.data, error: null };
      if (result.data.proof.status === "failed") await this.refreshStatus();
    } else {
      this.detail = { index, loading: false, entry: null, error: result.error };
      if (result.error.code === "audit_alarm") await this.refreshStatus();
    }
  }

  closeEntry(): void {
    this.detail = null;
  }

  // ---- export ----

  /** Exports the entries matching the filter in effect to `path`. */
  /** Rust asks where to save (its own dialog); `null` data when the person cancelled it. */
  async exportTo(request: ExportRequest): Promise<Result<ExportDone | null, IpcError>> {
    const filter = this.filter;
    const result = await settle(() => commands.auditExport(this.profile, filter, describeFilter(filter), request));
    if (result.status === "error" && result.error.code === "audit_alarm") await this.refreshStatus();
    return result;
  }
}
