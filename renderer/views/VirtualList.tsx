// A list that renders only the rows in view, so a folder of 100,000 entries scrolls smoothly.
import { useState, type ReactNode } from 'react';

/** `role`: 'tree' for folders (rows are treeitems of their own), 'list' for the job queue. */
export function VirtualList<T>({
  items,
  rowHeight,
  height,
  render,
  label,
  role = 'tree',
}: {
  items: T[];
  rowHeight: number;
  height: number;
  render(item: T, index: number): ReactNode;
  label: string;
  role?: 'tree' | 'list';
}) {
  const [top, setTop] = useState(0);
  const first = Math.max(0, Math.floor(top / rowHeight) - 10);
  const last = Math.min(items.length, Math.ceil((top + height) / rowHeight) + 10);
  return (
    <div
      className="virtual"
      style={{ height, overflowY: 'auto' }}
      onScroll={(event) => setTop(event.currentTarget.scrollTop)}
      role={role}
      aria-label={label}
      tabIndex={role === 'list' ? 0 : undefined}
    >
      <div style={{ height: items.length * rowHeight, position: 'relative' }}>
        {items.slice(first, last).map((item, offset) => (
          <div
            key={first + offset}
            role={role === 'list' ? 'listitem' : undefined}
            style={{ position: 'absolute', top: (first + offset) * rowHeight, height: rowHeight, left: 0, right: 0 }}
          >
            {render(item, first + offset)}
          </div>
        ))}
      </div>
    </div>
  );
}
