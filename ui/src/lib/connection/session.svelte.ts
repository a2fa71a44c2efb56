// The connection to a Gatehouse server made with one profile.
import { commands, type Connection, type IpcError, type Result } from "../../bindings";
import { settle } from "../ipc";

export class Session {
  /** The live connection, or null before connecting, while connecting and after a failure. */
  current = $state.raw<Connection | null>(null);

  async connect(profile: string): Promise<Result<Connection, IpcError>> {
    this.current = null;
    const result = await settle(() => commands.connect(profile));
    if (result.status === "ok") this.current = result.data;
    return result;
  }

  /** Forgets the connection in the UI (switching profile). */
  end(): void {
    this.current = null;
  }
}
