// The console's top-level controller: which screen is shown and the steps between screens.
import { getContext, setContext } from "svelte";

import { commands, type Connection, type IpcError } from "../bindings";
import { unexpectedError } from "./errors/errors";
import { settle } from "./ipc";
import { ProfileEdits, Profiles } from "./profiles/profiles.svelte";

export type Screen =
  | { kind: "starting" }
  | { kind: "connecting"; profile: string; serverUrl: string | null }
  | { kind: "connected"; connection: Connection }
  | { kind: "failed"; error: IpcError; profile: string | null }
  | { kind: "profiles" }
  | { kind: "add-profile"; firstRun: boolean }
  | AuditScreen;

/**
 * The audit explorer for one profile: `online` when opened from a live connection (sync allowed), offline
 * when opened from the local cache alone. `back` is the screen to return to.
 */
export type AuditScreen = { kind: "audit"; profile: string; online: boolean; back: Exclude<Screen, AuditScreen> };

export class Gatehouse {
  readonly profiles = new Profiles();
  readonly edits = new ProfileEdits(this.profiles);

  screen = $state.raw<Screen>({ kind: "starting" });

  /** Bumped by every navigation so a slow answer cannot replace a screen the user has moved on from. */
  #step = 0;
  #retry: () => Promise<void> = () => this.start();

  /** Start-up: connect straight away when launched for one profile, else let the user choose. */
  async start(): Promise<void> {
    const step = this.#next({ kind: "starting" });
    let startup: string | null;
    try {
      // The list is read alongside only to name the server while connecting; a failure there is not fatal.
      [startup] = await Promise.all([commands.startupProfile(), this.profiles.load()]);
    } catch (cause) {
      if (step === this.#step) this.#fail(unexpectedError(cause), null, () => this.start());
      return;
    }
    if (step !== this.#step) return;
    if (startup !== null) await this.connect(startup);
    else await this.chooseProfile();
  }

  async connect(profile: string): Promise<void> {
    const serverUrl = this.profiles.find(profile)?.serverUrl ?? null;
    const step = this.#next({ kind: "connecting", profile, serverUrl });
    const result = await settle(() => commands.connect(profile));
    if (step !== this.#step) return;
    if (result.status === "ok") this.screen = { kind: "connected", connection: result.data };
    else this.#fail(result.error, profile, () => this.connect(profile));
  }

  /** Connects again with the profile of the current connection. */
  async reconnect(): Promise<void> {
    if (this.screen.kind === "connected") await this.connect(this.screen.connection.profile.name);
  }

  /** The profile list, or the first-run form when there is no profile yet. */
  async chooseProfile(): Promise<void> {
    const step = ++this.#step;
    const result = await this.profiles.load();
    if (step !== this.#step) return;
    if (result.status === "error") this.#fail(result.error, null, () => this.chooseProfile());
    else if (result.data.length === 0) this.screen = { kind: "add-profile", firstRun: true };
    else this.screen = { kind: "profiles" };
  }

  addProfile(): void {
    this.#next({ kind: "add-profile", firstRun: false });
  }

  /**
   * Opens the audit explorer for `profile`. Online means a live connection exists (sync offered); offline reads
   * the local cache only, for when the server cannot be reached.
   */
  openAudit(profile: string, online: boolean): void {
    const back = this.screen.kind === "audit" ? this.screen.back : this.screen;
    this.#next({ kind: "audit", profile, online, back });
  }

  /** Leaves the audit explorer for the screen it was opened from (the connection is not re-checked). */
  closeAudit(): void {
    if (this.screen.kind === "audit") this.#next(this.screen.back);
  }

  /** Repeats whatever failed on the error screen. */
  retry(): Promise<void> {
    return this.#retry();
  }

  #next(screen: Screen): number {
    this.screen = screen;
    return ++this.#step;
  }

  #fail(error: IpcError, profile: string | null, retry: () => Promise<void>): void {
    this.#retry = retry;
    this.screen = { kind: "failed", error, profile };
  }
}

const KEY = Symbol("gatehouse");

/** Makes the controller available to every component below the caller. */
export function provideGatehouse(gatehouse: Gatehouse): Gatehouse {
  return setContext(KEY, gatehouse);
}

export function useGatehouse(): Gatehouse {
  const gatehouse = getContext<Gatehouse | undefined>(KEY);
  if (!gatehouse) throw new Error("useGatehouse() called outside a component tree with provideGatehouse()");
  return gatehouse;
}

/** A context map for mounting a single view in tests. */
export function gatehouseContext(gatehouse: Gatehouse): Map<symbol, Gatehouse> {
  return new Map([[KEY, gatehouse]]);
}
