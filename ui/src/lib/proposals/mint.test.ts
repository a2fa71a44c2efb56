import { describe, expect, it } from "vitest";

import { MAX_METADATA_BYTES, readMetadata } from "./mint";

describe("readMetadata", () => {
  it("takes one NFT per non-empty line, trimmed", () => {
    expect(readMetadata("  ipfs://a  \n\n\tipfs://b\r\n")).toEqual({ metadata: ["ipfs://a", "ipfs://b"], problems: [] });
  });

  it("asks for at least one line", () => {
    expect(readMetadata(" \n \n").problems).toEqual([{ line: null, message: "Give at least one metadata URI, one per line." }]);
  });

  it("counts UTF-8 bytes, not characters, and names each line that is too long", () => {
    const fits = "x".repeat(MAX_METADATA_BYTES);
    // 34 three-byte characters: 34 characters but 102 bytes.
    const wide = "€".repeat(34);
    const { problems } = readMetadata(`${fits}\n\n${wide}\n${fits}x`);
    expect(problems.map((p) => p.line), "lines as the person sees them, blank ones counted").toEqual([3, 4]);
    expect(problems[0]?.message).toContain("Line 3: 102 bytes");
    expect(problems[1]?.message).toContain("Line 4: 101 bytes");
  });

  it("refuses more than ten NFTs in one proposal", () => {
    const eleven = Array.from({ length: 11 }, (_, i) => `ipfs://${i}`).join("\n");
    expect(readMetadata(eleven).problems).toEqual([
      { line: null, message: "11 NFTs: one proposal mints at most 10 (Hedera's limit per mint). Split it." },
    ]);
    const ten = Array.from({ length: 10 }, (_, i) => `ipfs://${i}`).join("\n");
    expect(readMetadata(ten).problems, "ten is allowed").toEqual([]);
  });
});
