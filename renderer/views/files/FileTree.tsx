// The folders of a restore point as a tree that renders only the rows in view (TanStack Virtual),
// so a folder of 20,000 entries scrolls smoothly. Its scroll position goes to the store when the
// view is left, and a focused row (a search hit) is scrolled into view once it is listed.
import { Button, Checkbox, Label } from '@patternfly/react-core';
import { AngleDownIcon, AngleRightIcon } from '@patternfly/react-icons';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useLayoutEffect, useRef } from 'react';
import { formatBytes, printableName } from '../../../shared/format.ts';
import { isInsideVolume } from '../../../shared/item-paths.ts';
import { useConsole } from '../../store.ts';
import type { Row } from './tree-rows.ts';

const ROW_HEIGHT = 36;

export function FileTree({ rows, onToggle, onPreview }: { rows: Row[]; onToggle(path: string): void; onPreview(path: string): void }) {
  const { expanded, picked, focused, scrollTop } = useConsole((state) => state.files);
  const setFiles = useConsole((state) => state.setFiles);
  const scroller = useRef<HTMLDivElement>(null);
  const rowsVirtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    initialOffset: scrollTop,
  });
  // Where the operator was, kept for their return (read once, as the view goes).
  useLayoutEffect(() => {
    const element = scroller.current;
    if (element) element.scrollTop = useConsole.getState().files.scrollTop;
    return () => setFiles({ scrollTop: element?.scrollTop ?? 0 });
  }, [setFiles]);
  // A search hit opened: scroll to it once its folder is listed.
  const scrolledTo = useRef<string | null>(null);
  const focusedIndex = focused === null ? -1 : rows.findIndex((row) => row.path === focused);
  useEffect(() => {
    if (focusedIndex < 0 || scrolledTo.current === focused) return;
    scrolledTo.current = focused;
    rowsVirtualizer.scrollToIndex(focusedIndex, { align: 'center' });
  }, [focused, focusedIndex, rowsVirtualizer]);

  const pickedPaths = new Set(picked.map((item) => item.path));
  const pick = (row: Row, on: boolean): void =>
    setFiles({
      picked: on
        ? [...picked, { path: row.path, type: row.entry.type, size: row.entry.type === 'file' ? row.entry.size : 0 }]
        : picked.filter((item) => item.path !== row.path),
    });
  return (
    <div ref={scroller} role="tree" aria-label="Files of the restore point" style={{ height: 420, overflowY: 'auto' }}>
      <div style={{ height: rowsVirtualizer.getTotalSize(), position: 'relative' }}>
        {rowsVirtualizer.getVirtualItems().map((item) => {
          const row = rows[item.index] as Row;
          const { entry } = row;
          const open = expanded.includes(row.path);
          const name = printableName(entry.name); // a guest's name may hold control characters or bidi overrides
          return (
            <div
              key={row.path}
              role="treeitem"
              aria-level={row.depth + 1}
              aria-expanded={entry.type === 'dir' ? open : undefined}
              aria-selected={row.path === focused}
              style={{
                position: 'absolute',
                top: 0,
                left: 0,
                right: 0,
                height: ROW_HEIGHT,
                transform: `translateY(${item.start}px)`,
                // The selected row (a search hit, the file previewed), in the theme's own colour.
                ...(row.path === focused
                  ? {
                      background: 'var(--pf-t--global--background--color--secondary--default)',
                      boxShadow: 'inset 3px 0 var(--pf-t--global--border--color--clicked)',
                    }
                  : {}),
              }}
            >
              <div
                className="pf-v6-u-display-flex pf-v6-u-align-items-center"
                style={{ paddingLeft: row.depth * 20, height: '100%', gap: 6 }}
              >
                {entry.type === 'dir' ? (
                  <Button
                    variant="plain"
                    size="sm"
                    onClick={() => onToggle(row.path)}
                    aria-label={`${open ? 'Collapse' : 'Expand'} ${name}`}
                    icon={open ? <AngleDownIcon /> : <AngleRightIcon />}
                  />
                ) : (
                  <span style={{ width: 36 }} />
                )}
                {isInsideVolume(row.path) && (
                  <Checkbox
                    id={`pick-${item.index}`}
                    isChecked={pickedPaths.has(row.path)}
                    onChange={(_event, on) => pick(row, on)}
                    aria-label={`Pick ${row.path}`}
                  />
                )}
                {entry.type === 'file' ? (
                  <Button variant="link" isInline onClick={() => onPreview(row.path)}>
                    {name}
                  </Button>
                ) : (
                  <span>{name}</span>
                )}
                <span className="pf-v6-u-text-color-subtle pf-v6-u-font-size-sm">
                  {entry.type === 'file' ? formatBytes(entry.size) : entry.problem === undefined ? printableName(entry.target ?? '') : ''}
                </span>
                {entry.problem !== undefined && (
                  <Label color="orange" isCompact role="note">
                    could not be read: {entry.problem}
                  </Label>
                )}
                {entry.notes?.map((note) => (
                  <Label key={note} color={note.startsWith('may be stale') ? 'orange' : 'grey'} isCompact role="note">
                    {note}
                  </Label>
                ))}
              </div>
            </div>
          );
        })}
      </div>
    </div>
  );
}
