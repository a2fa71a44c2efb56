// The rotation wizard's arithmetic: who holds the key by default, and the key after, in the words the
// server's proposal will use. The server decides; this only shows the officer what they are about to ask.
import type { RotationOverview } from "../../bindings";

/**
 * The roles the server rotates. Hedera asks the new admin key and the new treasury account's key to sign their
 * change too (`newKeySigns`): each new holder signs in Approvals with their new key, besides the quorum.
 */
export const ROLES = [
  { role: "supply", label: "Supply key (mints)", newKeySigns: false },
  { role: "pause", label: "Pause key (responders)", newKeySigns: false },
  { role: "admin", label: "Admin key (the new key signs too)", newKeySigns: true },
  { role: "treasury", label: "Treasury (a new account; its NFTs move; the new key signs too)", newKeySigns: true },
] as const;

/** Who holds `role`'s key now, in the key's order, and its threshold; none when the registry has no such key. */
export function current(overview: RotationOverview, role: string): { holders: string[]; threshold: number } | null {
  const key = overview.keys.find((k) => k.role === role);
  if (!key) return null;
  const match = /^(\d+) of /.exec(key.holders);
  return { holders: key.members.map((m) => m.label), threshold: Number(match?.[1] ?? 1) };
}

/** `2 of alice (new key), bob, carol`: the key the proposal asks for; holders who staged a key bring it. */
export function afterText(threshold: number, holders: readonly string[], overview: RotationOverview): string {
  const staged = new Set(overview.staged.map((s) => s.officer));
  const named = holders.map((h) => (staged.has(h) ? `${h} (new key)` : h));
  return `${threshold} of ${named.join(", ")}`;
}

/**
 * Why the choice cannot be proposed as it stands, or null. With `overview` and `role`, the key as it is already
 * (same holders, same threshold, nobody bringing a new key) is one.
 */
export function problem(
  threshold: number,
  holders: readonly string[],
  overview?: RotationOverview,
  role?: string,
): string | null {
  if (holders.length === 0) return "Choose who holds the new key.";
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > holders.length) {
    return `The threshold must be between 1 and ${holders.length}: ${threshold} of ${holders.length} could never sign (or anyone could).`;
  }
  const now = overview && role ? current(overview, role) : null;
  const staged = new Set(overview?.staged.map((s) => s.officer) ?? []);
  if (
    now &&
    now.threshold === threshold &&
    now.holders.join(",") === holders.join(",") &&
    !holders.some((h) => staged.has(h))
  ) {
    return "This is the key as it is: stage a new key (step 2) or change the holders or the threshold.";
  }
  return null;
}

/**
 * Why offboarding `officer` would leave a key unable to sign: each key they hold whose threshold the remaining holders
 * could not reach. The server decides (and checks the policy rules too); this warns before anything is sent.
 */
export function offboardingWarnings(overview: RotationOverview, officer: string): string[] {
  const warnings: string[] = [];
  for (const key of overview.keys) {
    // An offboarding changes the admin, supply and pause keys; the treasury account's key waits for a treasury rotation.
    if (key.role === "treasury") continue;
    const now = current(overview, key.role);
    if (!now?.holders.includes(officer)) continue;
    const remaining = now.holders.length - 1;
    if (remaining < now.threshold) {
      warnings.push(
        `The ${key.role} key needs ${now.threshold} signature(s) and only ${remaining} holder(s) would remain: rotate it to other holders first.`,
      );
    }
  }
  return warnings;
}

/** The token keys an onboarding adds an officer to; the treasury account's key changes only with a treasury rotation. */
export const JOINABLE = ["admin", "supply", "pause"] as const;

/**
 * The keys `officer` could join, each with why not when they cannot: one they hold already. The server decides (and
 * checks their registered roles: the pause key is the responders'); this only keeps the form from asking the
 * impossible.
 */
export function joinable(overview: RotationOverview, officer: string): { role: string; heldAlready: boolean }[] {
  return JOINABLE.filter((role) => overview.keys.some((k) => k.role === role)).map((role) => ({
    role,
    heldAlready: current(overview, role)?.holders.includes(officer) ?? false,
  }));
}

/** `2 of alice, bob -> 2 of alice, bob, hana`: the key after an onboarding adds `officer` (threshold kept). */
export function joinedText(overview: RotationOverview, role: string, officer: string): string {
  const now = current(overview, role);
  if (!now) return "—";
  return `${now.threshold} of ${now.holders.join(", ")} → ${now.threshold} of ${[...now.holders, officer].join(", ")}`;
}
