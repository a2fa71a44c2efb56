// The table's rows, fetched in windows as the person scrolls: a small LRU of windows, one filter generation
// at a time. Answers for an older generation (the filter changed meanwhile) are dropped.
import type { AuditFilter, AuditPage, AuditRow, IpcError } from "../../bindings";
import type { Result } from "../ipc";

/** Rows per auditPage request (Rust allows up to 1000). */
export const WINDOW = 200;
/** Windows kept in memory; the rest are fetched again when scrolled back to. */
export const MAX_WINDOWS = 8;

export type FetchPage = (filter: AuditFilter, offset: number, limit: number) => Promise<Result<AuditPage, IpcError>>;

export class AuditRows {
  /** Matching entries in all; null until the first window of the current filter has arrived. */
  total = $state<number | null>(null);
  /** The last failure to fetch a window; cleared by `retry`. */
  error = $state.raw<IpcError | null>(null);
  /** Bumped when the filter changes: the table scrolls back to the top. */
  generation = $state(0);
  /** Bumped when a window arrives, so what reads `row()` updates. */
  #version = $state(0);

  readonly #fetch: FetchPage;
  #filter: AuditFilter | null = null;
  /** Window number → rows; Map order is recency (last = most recently used). */
  readonly #windows = new Map<number, AuditRow[]>();
  readonly #inflight = new Set<number>();
  /** The windows last asked for: never evicted. */
  #wanted: [number, number] = [0, 0];

  constructor(fetch: FetchPage) {
    this.#fetch = fetch;
  }

  get filter(): AuditFilter | null {
    return this.#filter;
  }

  get loading(): boolean {
    this.#version;
    return this.#inflight.size > 0;
  }

  /** Starts over for `filter`: forgets every window and fetches the first. */
  reset(filter: AuditFilter): void {
    this.#filter = filter;
    this.#windows.clear();
    this.#inflight.clear();
    this.total = null;
    this.error = null;
    this.generation += 1;
    this.#version += 1;
    this.ensure(0, 0);
  }

  /** The row at `position` (0 = newest match), or undefined while its window is not here. */
  row(position: number): AuditRow | undefined {
    this.#version;
    const rows = this.#windows.get(Math.floor(position / WINDOW));
    return rows?.[position % WINDOW];
  }

  /** Makes sure the windows holding rows `first..=last` are here or on their way. */
  ensure(first: number, last: number): void {
    if (this.#filter === null) return;
    const from = Math.floor(Math.max(0, first) / WINDOW);
    const to = Math.floor(Math.max(first, last) / WINDOW);
    this.#wanted = [from, to];
    for (let w = from; w <= to; w++) {
      const rows = this.#windows.get(w);
      if (rows) {
        // Most recently used goes last.
        this.#windows.delete(w);
        this.#windows.set(w, rows);
      } else if (!this.#inflight.has(w) && this.error === null) {
        void this.#load(w);
      }
    }
  }

  /** Clears a failure and fetches what is in view again. */
  retry(): void {
    this.error = null;
    const [from, to] = this.#wanted;
    this.ensure(from * WINDOW, to * WINDOW);
  }

  async #load(w: number): Promise<void> {
    const filter = this.#filter;
    if (filter === null) return;
    const generation = this.generation;
    this.#inflight.add(w);
    this.#version += 1;
    let result: Result<AuditPage, IpcError>;
    try {
      result = await this.#fetch(filter, w * WINDOW, WINDOW);
    } finally {
      if (generation === this.generation) this.#inflight.delete(w);
    }
    // The filter changed while this was on its way: the answer belongs to a list no longer shown.
    if (generation !== this.generation) return;
    if (result.status === "error") {
      this.error = result.error;
    } else {
      this.#windows.set(w, result.data.rows);
      this.total = result.data.total ?? 0;
      this.#evict();
    }
    this.#version += 1;
  }

  #evict(): void {
    const [from, to] = this.#wanted;
    for (const w of this.#windows.keys()) {
      if (this.#windows.size <= MAX_WINDOWS) break;
      if (w < from || w > to) this.#windows.delete(w);
    }
  }

  /** Windows held now, oldest use first (for tests). */
  get cachedWindows(): number[] {
    this.#version;
    return [...this.#windows.keys()];
  }
}
