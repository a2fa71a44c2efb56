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

const FOCUSABLE =
  'button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [href], summary, [tabindex]:not([tabindex="-1"])';

/** Keeps Tab and Shift+Tab inside `container` (a modal dialog): wraps from the last control to the first. */
export function trapTab(event: KeyboardEvent, container: HTMLElement): void {
  const focusable = Array.from(container.querySelectorAll<HTMLElement>(FOCUSABLE));
  const first = focusable[0];
  const last = focusable[focusable.length - 1];
  if (!first || !last) return;
  const inside = document.activeElement instanceof Node && container.contains(document.activeElement);
  if (!inside) {
    event.preventDefault();
    (event.shiftKey ? last : first).focus();
  } else if (event.shiftKey && document.activeElement === first) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && document.activeElement === last) {
    event.preventDefault();
    first.focus();
  }
}
