// The add-profile form's contents and their parsing into a `NewProfile` for Rust.
import type { ChosenFile, Environment, NewProfile } from "../../bindings";

/**
 * What the person has entered so far; `environment` is empty until chosen (there is no default). A file is the
 * ticket and name Rust gave for what the person chose in its dialog: the path itself stays in Rust.
 */
export type ProfileDraft = {
  name: string;
  serverUrl: string;
  caCert: ChosenFile | null;
  clientCert: ChosenFile | null;
  clientKey: ChosenFile | null;
  environment: Environment | "";
};

export type DraftField = keyof ProfileDraft;
export type DraftErrors = Partial<Record<DraftField, string>>;

export type ParsedDraft = { ok: true; profile: NewProfile } | { ok: false; errors: DraftErrors };

/** Form order, so focus can go to the first field in error. */
export const DRAFT_FIELDS: readonly DraftField[] = [
  "name",
  "serverUrl",
  "caCert",
  "clientCert",
  "clientKey",
  "environment",
];

export const NAME_MAX_LENGTH = 64;

export function emptyDraft(): ProfileDraft {
  return { name: "", serverUrl: "", caCert: null, clientCert: null, clientKey: null, environment: "" };
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
  if (!draft.caCert) errors.caCert = "Choose the CA certificate file of your deployment.";
  if (!draft.clientCert) errors.clientCert = "Choose your client certificate file.";
  if (!draft.clientKey) errors.clientKey = "Choose the private key file of your client certificate.";
  if (!draft.environment) errors.environment = "Choose the environment this server belongs to.";

  const { caCert, clientCert, clientKey, environment } = draft;
  if (Object.keys(errors).length > 0 || !caCert || !clientCert || !clientKey || !environment) {
    return { ok: false, errors };
  }
  return {
    ok: true,
    profile: {
      name,
      serverUrl,
      caCert: caCert.ticket,
      clientCert: clientCert.ticket,
      clientKey: clientKey.ticket,
      keyPassphrase: passphrase === "" ? null : passphrase,
      environment,
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
