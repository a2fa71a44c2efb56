// Moving keyboard focus to a screen's primary control when it appears.
import type { Attachment } from "svelte/attachments";

/**
 * `{@attach autofocus()}`: focuses the element once it is in the document. Used instead of the HTML
 * `autofocus` attribute, which browsers honour only on the first page load, not when a view swaps in.
 */
export function autofocus(enabled = true): Attachment<HTMLElement> {
  return (node) => {
    if (enabled) node.focus();
  };
}
