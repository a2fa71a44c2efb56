// Geometry of the virtualised table: which rows a scroll position shows, and where to scroll to show a row.
//
// Browsers cap an element's height (about 16.7 M px in Chromium/WebKit, less in Firefox), so a million rows of
// 28 px (28 M px) cannot have a spacer of their true height. The spacer is clamped to MAX_SPACER and the scroll
// position is scaled: real scrollTop × ratio = virtual offset into the full list. Rows are then placed
// relative to the real scroll position so they sit exactly in the viewport, whatever the ratio.

/** Height of one table row, px (the CSS uses the same value). */
export const ROW_HEIGHT = 28;
/** Tallest spacer the table makes, px; safely below every engine's limit. */
export const MAX_SPACER = 15_000_000;
/** Rows rendered beyond each edge of the viewport. */
export const OVERSCAN = 8;

export type Layout = {
  /** Height of the scroll spacer, px. */
  spacer: number;
  /** Virtual px per real px of scrolling (1 unless the list is taller than MAX_SPACER). */
  ratio: number;
  /** The scroll position actually in effect (clamped), px. */
  scrollTop: number;
  /** First row at least partly in view. */
  firstVisible: number;
  /** Rows that fit in the viewport. */
  visibleCount: number;
  /** First and one-past-last row to render (visible plus overscan). */
  start: number;
  end: number;
  /** Top of row `start` inside the spacer, px. */
  top: number;
};

export function layout(
  total: number,
  viewport: number,
  scrollTop: number,
  rowHeight = ROW_HEIGHT,
  maxSpacer = MAX_SPACER,
  overscan = OVERSCAN,
): Layout {
  const content = total * rowHeight;
  const spacer = Math.min(content, maxSpacer);
  const realMax = Math.max(0, spacer - viewport);
  const virtualMax = Math.max(0, content - viewport);
  const ratio = realMax > 0 ? virtualMax / realMax : 1;
  const top = Math.min(Math.max(0, scrollTop), realMax);
  const virtualTop = top * ratio;
  const firstVisible = Math.min(Math.max(0, total - 1), Math.floor(virtualTop / rowHeight));
  const visibleCount = Math.max(1, Math.ceil(viewport / rowHeight));
  const start = Math.max(0, firstVisible - overscan);
  const end = Math.min(total, firstVisible + visibleCount + 1 + overscan);
  return {
    spacer,
    ratio,
    scrollTop: top,
    firstVisible,
    visibleCount,
    start,
    end,
    top: top + start * rowHeight - virtualTop,
  };
}

/** The real scrollTop that brings row `row` fully into view with the least movement (unchanged if it is). */
export function scrollToRow(
  row: number,
  total: number,
  viewport: number,
  scrollTop: number,
  rowHeight = ROW_HEIGHT,
  maxSpacer = MAX_SPACER,
): number {
  const current = layout(total, viewport, scrollTop, rowHeight, maxSpacer, 0);
  const virtualTop = current.scrollTop * current.ratio;
  const rowTop = row * rowHeight;
  let target = virtualTop;
  if (rowTop < virtualTop) target = rowTop;
  else if (rowTop + rowHeight > virtualTop + viewport) target = rowTop + rowHeight - viewport;
  else return current.scrollTop;
  const realMax = Math.max(0, current.spacer - viewport);
  // Round towards the row so a scaled position never leaves it a pixel out of view.
  const real = target > virtualTop ? Math.ceil(target / current.ratio) : Math.floor(target / current.ratio);
  return Math.min(Math.max(0, real), realMax);
}
