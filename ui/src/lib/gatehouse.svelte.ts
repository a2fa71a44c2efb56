// The console's top-level controller: which screen is shown and the steps between screens.
import { getContext, setContext } from "svelte";

import { commands, type Connection, type IpcError } from "../bindings";
import { unexpectedError } from "./errors/errors";
import { settle } from "./ipc";
import { ProfileEdits, Profiles } from "./profiles/profiles.svelte";

/** How often a connected console asks whether the device holding the key is still there. */
export const DEVICE_CHECK_MS = 3000;

/** Failures after which the PIN dialog stays up, showing the error, for another try. */
const STAY_UNLOCKING: ReadonlySet<IpcError["code"]> = new Set([
  "device_pin_incorrect",
  "device_gone",
  "device_not_found",
  "device_touch_timeout",
]);

export type Screen =
  | { kind: "starting" }
  /** `device` names the device that signs the handshake, when the PIN was just given for one. */
  | { kind: "connecting"; profile: string; serverUrl: string | null; device: string | null }
  | { kind: "connected"; connection: Connection }
  | { kind: "failed"; error: IpcError; profile: string | null }
  | { kind: "profiles" }
  | { kind: "add-profile"; firstRun: boolean }
  | UnlockScreen
  | DevicesScreen
  | AuditScreen
  | ApprovalsScreen
  | RotationScreen;

/**
 * The profile's key is on a device: its PIN is asked for over the connecting screen. `device` names the
 * device (the `detail` of Rust's answer); `error` is the last failure (a wrong PIN, with the tries left).
 */
export type UnlockScreen = {
  kind: "unlock";
  profile: string;
  serverUrl: string | null;
  device: string;
  error: IpcError | null;
};

/**
 * The Devices screen; `back` is the screen to return to. (Screens are excluded by kind: excluding them by type
 * would make the `back` types of the screens depend on each other in a circle.)
 */
export type DevicesScreen = { kind: "devices"; back: Exclude<Screen, { kind: "devices" | "audit" }> };

/**
 * The audit explorer for one profile: `online` when opened from a live connection (sync allowed), offline
 * when opened from the local cache alone. `back` is the screen to return to.
 */
export type AuditScreen = { kind: "audit"; profile: string; online: boolean; back: Exclude<Screen, AuditScreen> };

/** The approvals queue of a connected profile; `back` is the screen to return to (excluded by kind, as above). */
export type ApprovalsScreen = { kind: "approvals"; profile: string; back: Exclude<Screen, { kind: "approvals" }> };

/** The key rotation wizard of a connected profile; `back` is the screen to return to (excluded by kind, as above). */
export type RotationScreen = {
  kind: "rotation";
  profile: string;
  back: Exclude<Screen, { kind: "rotation" | "approvals" }>;
};

export class Gatehouse {
  readonly profiles = new Profiles();
  readonly edits = new ProfileEdits(this.profiles);

  screen = $state.raw<Screen>({ kind: "starting" });

  /** Bumped by every navigation so a slow answer cannot replace a screen the user has moved on from. */
  #step = 0;
  #retry: () => Promise<void> = () => this.start();
  /** The timer that asks, while connected, whether the device holding the key is still there. */
  #watch: ReturnType<typeof setInterval> | null = null;

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

  /**
   * Connects with `profile`. A profile whose key is on a device first answers `device_pin_required`: the
   * unlock screen asks for the PIN and calls this again with it. The PIN is passed through, never kept.
   */
  async connect(profile: string, pin: string | null = null): Promise<void> {
    this.#unwatch();
    const serverUrl = this.profiles.find(profile)?.serverUrl ?? null;
    const unlocking = this.screen.kind === "unlock" && this.screen.profile === profile ? this.screen : null;
    const step = this.#next({ kind: "connecting", profile, serverUrl, device: unlocking?.device ?? null });
    const result = await settle(() => commands.connect(profile, pin));
    if (step !== this.#step) return;
    if (result.status === "ok") {
      this.screen = { kind: "connected", connection: result.data };
      this.#watchDevice(profile);
      return;
    }
    const { error } = result;
    if (error.code === "device_pin_required") {
      this.screen = { kind: "unlock", profile, serverUrl, device: error.detail ?? error.message, error: null };
    } else if (unlocking && STAY_UNLOCKING.has(error.code)) {
      // Stay on the PIN dialog: the person can type again, plug the device back in, or touch it this time.
      this.screen = { ...unlocking, error };
    } else {
      this.#fail(error, profile, () => this.connect(profile));
    }
  }

  /** The Devices screen, returning to the current screen. */
  openDevices(): void {
    const screen = this.screen;
    if (screen.kind === "devices" || screen.kind === "audit") return;
    this.#next({ kind: "devices", back: screen });
  }

  closeDevices(): void {
    if (this.screen.kind === "devices") this.#next(this.screen.back);
  }

  /** Connects again with the profile of the current connection. */
  async reconnect(): Promise<void> {
    if (this.screen.kind === "connected") await this.connect(this.screen.connection.profile.name);
  }

  /** The profile list, or the first-run form when there is no profile yet. */
  async chooseProfile(): Promise<void> {
    const step = ++this.#step;
    this.#unwatch();
    // Back at the profile list, nothing stays connected (a device-held key is let go). Closing cannot
    // fail in Rust; an IPC failure here must not keep the person from the list.
    try {
      await commands.disconnect();
    } catch {
      // Nothing more to do: the next connect closes the old connection anyway.
    }
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
    const current = this.screen.kind === "devices" ? this.screen.back : this.screen;
    const back = current.kind === "audit" ? current.back : current;
    this.#next({ kind: "audit", profile, online, back });
  }

  /** Leaves the audit explorer for the screen it was opened from (the connection is not re-checked). */
  closeAudit(): void {
    if (this.screen.kind === "audit") this.#next(this.screen.back);
  }

  /** Opens the approvals queue of `profile`, over its live connection. */
  openApprovals(profile: string): void {
    const current = this.screen.kind === "devices" ? this.screen.back : this.screen;
    const back = current.kind === "approvals" ? current.back : current;
    this.#next({ kind: "approvals", profile, back });
  }

  /** Opens the key rotation wizard of `profile`, over its live connection. */
  openRotation(profile: string): void {
    const current = this.screen;
    if (current.kind === "rotation" || current.kind === "approvals" || current.kind === "devices") return;
    this.#next({ kind: "rotation", profile, back: current });
  }

  /** Leaves the rotation wizard for the screen it was opened from. */
  closeRotation(): void {
    if (this.screen.kind === "rotation") this.#next(this.screen.back);
  }

  /** Leaves the approvals queue for the screen it was opened from (the connection is not re-checked). */
  closeApprovals(): void {
    if (this.screen.kind === "approvals") this.#next(this.screen.back);
  }

  /** Repeats whatever failed on the error screen. */
  retry(): Promise<void> {
    return this.#retry();
  }

  /**
   * While connected with `profile` (on any screen reached from the connection), asks every few seconds
   * whether the device holding its key is still there. Rust closes the connection when the device is
   * pulled; the console then shows why, instead of working on over a connection whose key is gone.
   */
  #watchDevice(profile: string): void {
    // One check at a time: a device busy with a touch answers only when the touch is over.
    let checking = false;
    const timer = setInterval(async () => {
      if (checking) return;
      checking = true;
      const result = await settle(() => commands.liveCheck(profile));
      checking = false;
      // An answer about a connection the person has since left is not news.
      if (result.status === "ok" || this.#watch !== timer) return;
      if (result.error.code === "device_gone") {
        this.#unwatch();
        ++this.#step;
        this.#fail(result.error, profile, () => this.connect(profile));
      }
    }, DEVICE_CHECK_MS);
    this.#watch = timer;
  }

  #unwatch(): void {
    if (this.#watch !== null) clearInterval(this.#watch);
    this.#watch = null;
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
