// The approval policy's rules as an officer edits one: the same checks the server makes, so a rule the
// ledger would not carry out is named before anything is sent.
import type { PolicyView, RuleView } from "../../bindings";

export interface RuleDraft {
  kind: string;
  threshold: number;
  eligible: string[];
}

/** What is wrong with `draft` under `policy`; empty when it can be proposed. */
export function ruleProblems(policy: PolicyView, draft: RuleDraft): string[] {
  const problems: string[] = [];
  if (!policy.rules.some((r) => r.kind === draft.kind)) problems.push(`Choose the kind of action the rule is for.`);
  if (draft.eligible.length === 0) problems.push("Choose the officers who may approve.");
  if (!Number.isInteger(draft.threshold) || draft.threshold < policy.keyThreshold) {
    problems.push(
      `The token's keys need ${policy.keyThreshold} signatures, so a rule cannot ask fewer; lowering it means rotating the keys.`,
    );
  } else if (draft.threshold > draft.eligible.length && draft.eligible.length > 0) {
    problems.push(`${draft.threshold} approvals from ${draft.eligible.length} eligible officer(s) could never be reached.`);
  }
  const current = policy.rules.find((r) => r.kind === draft.kind);
  if (current && problems.length === 0 && sameRule(current, draft)) {
    problems.push(`The ${draft.kind} rule is ${ruleText(current)} already: nothing would change.`);
  }
  return problems;
}

function sameRule(rule: RuleView, draft: RuleDraft): boolean {
  const a = [...rule.eligible].sort();
  const b = [...draft.eligible].sort();
  return rule.threshold === draft.threshold && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A rule in words: "2 of alice, bob, carol". */
export function ruleText(rule: { threshold: number; eligible: readonly string[] }): string {
  return `${rule.threshold} of ${rule.eligible.join(", ")}`;
}

export const RULE_KINDS: Record<string, string> = {
  mint: "Mints",
  policy: "Policy changes",
};
