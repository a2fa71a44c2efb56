// The add-profile form's contents and their parsing into a `NewProfile` for Rust.
import type { Environment, NewProfile } from "../../bindings";

/** What the person has entered so far; `environment` is empty until chosen (there is no default). */
export type ProfileDraft = {
  name: string;
  serverUrl: string;
  caCertPath: string;
  clientCertPath: string;
  clientKeyPath: string;
  environment: Environment | "";
};

export type DraftField = keyof ProfileDraft;
export type DraftErrors = Partial<Record<DraftField, string>>;

export type ParsedDraft = { ok: true; profile: NewProfile } | { ok: false; errors: DraftErrors };

/** Form order, so focus can go to the first field in error. */
export const DRAFT_FIELDS: readonly DraftField[] = [
  "name",
  "serverUrl",
  "caCertPath",
  "clientCertPath",
  "clientKeyPath",
  "environment",
];

export const NAME_MAX_LENGTH = 64;

export function emptyDraft(): ProfileDraft {
  return { name: "", serverUrl: "", caCertPath: "", clientCertPath: "", clientKeyPath: "", environment: "" };
}

/**
 * Checks a draft and builds the profile to send. Rust checks again (files readable, certificate valid,
 * key matches); this only catches what can be seen without touching the disk.
 */
export function parseDraft(draft: ProfileDraft, passphrase: string): ParsedDraft {
  const errors: DraftErrors = {};
  const name = draft.name.trim();
  const serverUrl = draft.serverUrl.trim();

  const nameError = checkName(name);
  if (nameError) errors.name = nameError;
  const urlError = checkServerUrl(serverUrl);
  if (urlError) errors.serverUrl = urlError;
  if (!draft.caCertPath) errors.caCertPath = "Choose the CA certificate file of your deployment.";
  if (!draft.clientCertPath) errors.clientCertPath = "Choose your client certificate file.";
  if (!draft.clientKeyPath) errors.clientKeyPath = "Choose the private key file of your client certificate.";
  if (!draft.environment) errors.environment = "Choose the environment this server belongs to.";

  if (Object.keys(errors).length > 0 || !draft.environment) return { ok: false, errors };
  return {
    ok: true,
    profile: {
      name,
      serverUrl,
      caCertPath: draft.caCertPath,
      clientCertPath: draft.clientCertPath,
      clientKeyPath: draft.clientKeyPath,
      keyPassphrase: passphrase === "" ? null : passphrase,
      environment: draft.environment,
    },
  };
}

export function checkName(name: string): string | null {
  if (name === "") return "Enter a name for this profile.";
  if (name.length > NAME_MAX_LENGTH) return `Use at most ${NAME_MAX_LENGTH} characters.`;
  // Control characters would make the name ambiguous on screen and in typed confirmations.
  if (/[\u0000-\u001f\u007f]/.test(name)) return "Use letters, digits, spaces and punctuation only.";
  return null;
}

export function checkServerUrl(value: string): string | null {
  if (value === "") return "Enter the server address, starting with https://.";
  if (!/^https:\/\//i.test(value)) {
    return "Use an https:// address: Gatehouse only connects over mutually authenticated TLS.";
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "This is not a valid address. Example: https://gatehouse.example.org:8443";
  }
  if (url.hostname === "") return "The address needs a host name. Example: https://gatehouse.example.org";
  if (url.username !== "" || url.password !== "") {
    return "Remove the user name or password from the address: the certificate identifies you.";
  }
  if (url.search !== "" || url.hash !== "") return "Remove the ?query or #fragment from the address.";
  return null;
}
