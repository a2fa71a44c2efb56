// The approvals screen's state for one profile: who I am, the queue, the server's alarms, the pinned mirror,
// one open proposal and which dialog is up. It reloads when Rust says the profile's proposals changed
// (`gatehouse:proposals`), and every 15 s while the server's events do not reach this console. Components
// render it; it calls Rust.
import {
  commands,
  type Approvals,
  type IpcError,
  type ProposalDetail,
  type ProposalSummary,
} from "../../bindings";
import { settle, type Result } from "../ipc";
import { onProposalsChanged } from "./events";
import { groupQueue } from "./queue";

/** How often the queue is read again while the server's events do not arrive, ms. */
export const POLL_MS = 15_000;

/** The proposal being looked at. `detail` stays while a reload is under way, so nothing flickers. */
export type OpenProposal = {
  id: string;
  loading: boolean;
  detail: ProposalDetail | null;
  error: IpcError | null;
};

export type ApprovalsDialog = "propose" | "policy" | "sign" | "sign-new-key" | "reject" | "cancel";

export class ApprovalsBoard {
  readonly profile: string;

  /** Whether this screen hears Rust's events at all (listening can fail). */
  #listening = $state(false);
  /** Whether the server's events reach the console, as Rust last said. */
  #eventsLive = $state(false);
  #listGeneration = 0;
  #detailGeneration = 0;
  #poll: ReturnType<typeof setTimeout> | undefined;
  #unlisten: (() => void) | null = null;
  #disposed = false;

  approvals = $state.raw<Approvals | null>(null);
  /** The last failure to read the queue; the last good queue stays shown beside it. */
  error = $state.raw<IpcError | null>(null);
  loading = $state(false);
  /** When the queue was last read. */
  updatedAt = $state.raw<Date | null>(null);
  readonly queue = $derived(groupQueue(this.approvals?.proposals ?? []));
  /** Changes arrive as they happen; when not, the screen polls. */
  readonly live = $derived(this.#listening && this.#eventsLive);

  open = $state.raw<OpenProposal | null>(null);
  /** The dialog that is up, so Escape closes it rather than the screen below. */
  dialog = $state<ApprovalsDialog | null>(null);

  constructor(profile: string) {
    this.profile = profile;
  }

  /** Starts listening for changes and reads the queue. */
  async start(): Promise<void> {
    onProposalsChanged((change) => {
      if (change.profile !== this.profile || this.#disposed) return;
      this.#eventsLive = change.live;
      void this.refresh();
    }).then(
      (unlisten) => {
        if (this.#disposed) {
          unlisten();
          return;
        }
        this.#unlisten = unlisten;
        this.#listening = true;
        this.#schedule();
      },
      // Without events, polling keeps the screen current.
      () => this.#schedule(),
    );
    await this.refresh();
  }

  dispose(): void {
    this.#disposed = true;
    clearTimeout(this.#poll);
    this.#unlisten?.();
    this.#unlisten = null;
  }

  /** Reads the queue again, and the open proposal with it. */
  async refresh(): Promise<void> {
    const open = this.open;
    await Promise.all([this.#loadList(), open ? this.#loadProposal(open.id) : null]);
  }

  async openProposal(id: string): Promise<void> {
    this.open = { id, loading: true, detail: null, error: null };
    await this.#loadProposal(id);
  }

  closeProposal(): void {
    this.#detailGeneration += 1;
    this.open = null;
    this.dialog = null;
  }

  /** Proposes minting one NFT per entry; the queue is read again when it worked. */
  async propose(metadata: string[]): Promise<Result<ProposalSummary, IpcError>> {
    return this.#changed(await settle(() => commands.mintPropose(this.profile, metadata)));
  }

  async reject(id: string, reason: string): Promise<Result<ProposalSummary, IpcError>> {
    return this.#changed(await settle(() => commands.proposalReject(this.profile, id, reason)));
  }

  async cancel(id: string): Promise<Result<ProposalSummary, IpcError>> {
    return this.#changed(await settle(() => commands.proposalCancel(this.profile, id)));
  }

  async #changed(result: Result<ProposalSummary, IpcError>): Promise<Result<ProposalSummary, IpcError>> {
    if (result.status === "ok") await this.refresh();
    return result;
  }

  async #loadList(): Promise<void> {
    const generation = ++this.#listGeneration;
    this.loading = true;
    const result = await settle(() => commands.proposalsList(this.profile));
    if (generation !== this.#listGeneration || this.#disposed) return;
    this.loading = false;
    if (result.status === "ok") {
      this.approvals = result.data;
      this.#eventsLive = result.data.live;
      this.updatedAt = new Date();
      this.error = null;
    } else {
      this.error = result.error;
    }
    this.#schedule();
  }

  async #loadProposal(id: string): Promise<void> {
    const generation = ++this.#detailGeneration;
    if (this.open?.id !== id) return;
    this.open = { ...this.open, loading: true };
    const result = await settle(() => commands.proposalDetail(this.profile, id));
    const open = this.open;
    if (generation !== this.#detailGeneration || this.#disposed || open?.id !== id) return;
    this.open =
      result.status === "ok"
        ? { id, loading: false, detail: result.data, error: null }
        : { id, loading: false, detail: open.detail, error: result.error };
  }

  /** The next poll, while changes do not arrive on their own. */
  #schedule(): void {
    clearTimeout(this.#poll);
    this.#poll = undefined;
    if (!this.live && !this.#disposed) this.#poll = setTimeout(() => void this.refresh(), POLL_MS);
  }
}
