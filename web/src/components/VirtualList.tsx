import { useCallback, useEffect, useLayoutEffect, useRef, useState, type ReactNode } from 'react';

/** The viewport height to assume before layout (and in test DOMs, which have no layout). */
const FALLBACK_HEIGHT = 480;

interface VirtualListProps {
  /** How many rows there are (the ones loaded so far, for a list fetched as the reader scrolls). */
  count: number;
  /** Every row has this height in pixels (`.virtual-list__row` in styles.css must agree). */
  rowHeight: number;
  /** Renders row `index`; only the rows in view (plus `overscan`) are rendered. */
  renderRow: (index: number) => ReactNode;
  /** Told which rows are in view after every scroll, e.g. to fetch the next page near the end. */
  onRangeChange?: (first: number, last: number) => void;
  /** The accessible name of the list (it is a focusable scrolling region). */
  label: string;
  overscan?: number;
  /** The total known to be coming, for `aria-setsize` (-1: unknown). */
  setSize?: number;
}

/**
 * A windowed list: however many rows there are, the DOM holds only the ones in view. The spacer's
 * height and the window's offset are set through the CSSOM (`element.style`), which the CSP's
 * `style-src 'self'` allows, unlike `style` attributes.
 */
export function VirtualList({ count, rowHeight, renderRow, onRangeChange, label, overscan = 8, setSize }: VirtualListProps) {
  const viewportRef = useRef<HTMLDivElement>(null);
  const spacerRef = useRef<HTMLDivElement>(null);
  const windowRef = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(FALLBACK_HEIGHT);
  const frame = useRef<number | null>(null);

  useEffect(() => {
    const viewport = viewportRef.current;
    if (!viewport) return undefined;
    const measure = () => setHeight(viewport.clientHeight || FALLBACK_HEIGHT);
    measure();
    if (typeof ResizeObserver === 'undefined') return undefined;
    const observer = new ResizeObserver(measure);
    observer.observe(viewport);
    return () => observer.disconnect();
  }, []);

  useEffect(
    () => () => {
      if (frame.current !== null) cancelAnimationFrame(frame.current);
    },
    [],
  );

  // One state update per animation frame however fast the scroll events come.
  const onScroll = useCallback(() => {
    if (frame.current !== null) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = null;
      setScrollTop(viewportRef.current?.scrollTop ?? 0);
    });
  }, []);

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((scrollTop + height) / rowHeight) + overscan);

  useLayoutEffect(() => {
    spacerRef.current?.style.setProperty('height', `${count * rowHeight}px`);
    windowRef.current?.style.setProperty('transform', `translateY(${first * rowHeight}px)`);
  }, [count, rowHeight, first]);

  useEffect(() => {
    onRangeChange?.(first, last);
  }, [first, last, onRangeChange]);

  const rows: ReactNode[] = [];
  for (let index = first; index < last; index += 1) {
    rows.push(
      <div
        key={index}
        role="listitem"
        className="virtual-list__row"
        aria-posinset={index + 1}
        aria-setsize={setSize ?? -1}
      >
        {renderRow(index)}
      </div>,
    );
  }

  return (
    // A scrolling region must be reachable by keyboard; the list inside carries the semantics.
    <div ref={viewportRef} className="virtual-list" tabIndex={0} onScroll={onScroll} aria-label={label} role="region">
      <div ref={spacerRef} className="virtual-list__spacer">
        <div ref={windowRef} className="virtual-list__window" role="list" aria-label={label}>
          {rows}
        </div>
      </div>
    </div>
  );
}
