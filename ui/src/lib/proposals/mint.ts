// The propose-mint form's text, read the way the server checks it: one NFT per non-empty line, each line's
// on-chain metadata at most 100 bytes of UTF-8, at most 10 NFTs per proposal. Pure functions, unit-tested.

/** NFTs one proposal mints at most (Hedera's limit per mint). */
export const MAX_MINT_ITEMS = 10;

/** Longest on-chain metadata per NFT, in bytes of UTF-8 (Hedera's limit). */
export const MAX_METADATA_BYTES = 100;

/** What is wrong with the text: `line` is 1-based as the person sees it, null for the text as a whole. */
export type MintProblem = { line: number | null; message: string };

export type MintDraft = { metadata: string[]; problems: MintProblem[] };

const UTF8 = new TextEncoder();

/** The metadata to propose (trimmed non-empty lines) and every problem, so all are shown at once. */
export function readMetadata(text: string): MintDraft {
  const metadata: string[] = [];
  const problems: MintProblem[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const value = raw.trim();
    if (value === "") return;
    metadata.push(value);
    const bytes = UTF8.encode(value).length;
    if (bytes > MAX_METADATA_BYTES) {
      problems.push({
        line: i + 1,
        message: `Line ${i + 1}: ${bytes} bytes; on-chain metadata is at most ${MAX_METADATA_BYTES} bytes (put the JSON on IPFS and its ipfs:// URI here).`,
      });
    }
  });
  if (metadata.length === 0) {
    problems.push({ line: null, message: "Give at least one metadata URI, one per line." });
  } else if (metadata.length > MAX_MINT_ITEMS) {
    problems.push({
      line: null,
      message: `${metadata.length} NFTs: one proposal mints at most ${MAX_MINT_ITEMS} (Hedera's limit per mint). Split it.`,
    });
  }
  return { metadata, problems };
}
