// Client-side checks and defaults of the export dialog. Rust checks again; these only say it sooner.
import type { ExportRequest } from "../../bindings";

export type ExportKind = "recipients" | "passphrase" | "csv" | "json";

/** An age X25519 recipient as `age-keygen` prints it. */
export const AGE_RECIPIENT = /^age1[0-9a-z]{58}$/;

/** Shortest passphrase Rust accepts for a bundle. */
export const MIN_PASSPHRASE = 12;

/** Recipients from the textarea, one per line (blank lines ignored), or what is wrong with them. */
export function parseRecipients(text: string): { recipients: string[]; error: string | null } {
  const lines = text.split(/\r?\n/).map((line, i) => ({ key: line.trim(), line: i + 1 }));
  const recipients = lines.filter((l) => l.key !== "");
  if (recipients.length === 0) {
    return { recipients: [], error: "Enter at least one age public key (age1…), one per line." };
  }
  const bad = recipients.filter((r) => !AGE_RECIPIENT.test(r.key));
  if (bad.length > 0) {
    const where = bad.map((b) => b.line).join(", ");
    return {
      recipients: [],
      error:
        `Line ${where} ${bad.length === 1 ? "is not an age public key" : "are not age public keys"}: each key starts ` +
        `with "age1" followed by 58 lowercase letters and digits (62 characters in all), as age-keygen prints it.`,
    };
  }
  const unique = [...new Set(recipients.map((r) => r.key))];
  return { recipients: unique, error: null };
}

/** What is wrong with a passphrase and its confirmation, or null. Length counts characters, not bytes. */
export function checkPassphrase(passphrase: string, confirmation: string): string | null {
  if ([...passphrase].length < MIN_PASSPHRASE) {
    return `The passphrase is too short: use at least ${MIN_PASSPHRASE} characters.`;
  }
  if (passphrase !== confirmation) return "The two passphrases do not match. Type the same passphrase twice.";
  return null;
}

export function isPlain(kind: ExportKind): kind is "csv" | "json" {
  return kind === "csv" || kind === "json";
}

/** The request for Rust; plain kinds carry nothing else. */
export function exportRequest(
  kind: ExportKind,
  recipients: string[],
  passphrase: string,
): ExportRequest {
  switch (kind) {
    case "recipients":
      return { kind: "bundleRecipients", recipients };
    case "passphrase":
      return { kind: "bundlePassphrase", passphrase };
    case "csv":
      return { kind: "csv" };
    case "json":
      return { kind: "json" };
  }
}
