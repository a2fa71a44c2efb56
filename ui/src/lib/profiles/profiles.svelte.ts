// Profiles saved on this computer: the list (a query) and the edits that change it (mutations).
import { commands, type IpcError, type NewProfile, type ProfileSummary } from "../../bindings";
import type { Result } from "../ipc";
import { settle } from "../ipc";

/** The saved profiles as last read from Rust. Read-only: only `load` changes it. */
export class Profiles {
  items = $state.raw<ProfileSummary[]>([]);

  /** Reads the list again; on failure the previous list stays and the caller decides what to show. */
  async load(): Promise<Result<ProfileSummary[], IpcError>> {
    const result = await settle(() => commands.profileList());
    if (result.status === "ok") this.items = result.data;
    return result;
  }

  find(name: string): ProfileSummary | undefined {
    return this.items.find((p) => p.name === name);
  }
}

/** Changes to the saved profiles; each successful change reloads the list. */
export class ProfileEdits {
  readonly #profiles: Profiles;

  constructor(profiles: Profiles) {
    this.#profiles = profiles;
  }

  async add(profile: NewProfile): Promise<Result<ProfileSummary, IpcError>> {
    return this.#thenReload(await settle(() => commands.profileAdd(profile)));
  }

  /** Rust asks for the file (its own dialog); `null` data when the person cancelled. */
  async importFile(): Promise<Result<ProfileSummary | null, IpcError>> {
    return this.#thenReload(await settle(() => commands.profileImport()));
  }

  async remove(name: string): Promise<Result<null, IpcError>> {
    return this.#thenReload(await settle(() => commands.profileRemove(name)));
  }

  async #thenReload<T>(result: Result<T, IpcError>): Promise<Result<T, IpcError>> {
    if (result.status === "ok") await this.#profiles.load();
    return result;
  }
}
