// The side-by-side table: a column per tool (median seconds and the ratio to cp + sync, or the
// repository's size), issue 21's goal per row with whether Lifeboat meets it, then the raw runs.
import { median } from './common.ts';
import type { BackupTool } from './side-by-side-tools.ts';

/** One tool's raw runs, seconds (full, incremental, restore) and repository bytes. */
export type ToolRuns = { full: number[]; incremental: number[]; restore: number[]; bytes: number[] };

type Measured = { tool: BackupTool; runs: ToolRuns };

const LABEL_WIDTH = 26;
const GAP = 2;

/** Lifeboat's column is the first; the goals compare it with the others. */
function goals(tools: Measured[], cpTime: number): Record<keyof ToolRuns, string> {
  const figures = tools.map(({ runs }) => ({
    full: median(runs.full),
    incremental: median(runs.incremental),
    restore: median(runs.restore),
    bytes: median(runs.bytes),
  }));
  const [lifeboat, ...peers] = figures;
  if (!lifeboat) throw new Error('no tool measured');
  const borg = figures.find((_, i) => i > 0 && (tools[i] as Measured).tool.name.startsWith('borg '));
  const verdict = (met: boolean | null): string => (met === null ? 'n/a (peer not installed)' : met ? 'met' : 'NOT met');
  const beatsAll = (key: keyof ToolRuns): boolean | null => (peers.length ? peers.every((peer) => lifeboat[key] < peer[key]) : null);
  return {
    full: `faster than all: ${verdict(beatsAll('full'))}`,
    incremental: `faster than borg: ${verdict(borg ? lifeboat.incremental < borg.incremental : null)}`,
    restore: `>= 0.85x cp: ${verdict(cpTime / lifeboat.restore >= 0.85)}`,
    bytes: `smallest: ${verdict(beatsAll('bytes'))}`,
  };
}

const seconds = (values: number[], cpTime: number): string => {
  const time = median(values);
  return `${time.toFixed(1)} s ${(cpTime / time).toFixed(2)}x`;
};
const megabytes = (values: number[]): string => `${Math.round(median(values) / 1e6).toLocaleString('en-US')} MB`;

export function printSideBySide({ tools, cpTimes, capacity }: { tools: Measured[]; cpTimes: number[]; capacity: number }): void {
  const cpTime = median(cpTimes);
  const goal = goals(tools, cpTime);
  const rows: [string, (runs: ToolRuns) => string, string][] = [
    ['full backup', (runs) => seconds(runs.full, cpTime), goal.full],
    ['incremental (5% changed)', (runs) => seconds(runs.incremental, cpTime), goal.incremental],
    ['restore latest + sync', (runs) => seconds(runs.restore, cpTime), goal.restore],
    ['repository size', (runs) => megabytes(runs.bytes), goal.bytes],
  ];
  const columns = tools.map(({ tool, runs }) => {
    const cells = rows.map(([, cell]) => cell(runs));
    return { header: tool.name, cells, width: Math.max(tool.name.length, ...cells.map((cell) => cell.length)) + GAP };
  });
  const line = (label: string, cells: string[], last: string): string =>
    `  ${label.padEnd(LABEL_WIDTH)}${cells.map((cell, i) => cell.padEnd((columns[i] as { width: number }).width)).join('')}${last}`;
  console.log(
    line(
      '',
      columns.map(({ header }) => header),
      'goal (issue 21)',
    ),
  );
  rows.forEach(([label, , goalText], row) =>
    console.log(
      line(
        label,
        columns.map(({ cells }) => cells[row] as string),
        goalText,
      ),
    ),
  );
  console.log(
    `  times: median seconds and the ratio to cp --sparse=auto + sync of the same disk (${cpTime.toFixed(2)} s, ` +
      `${(capacity / cpTime / 1e6).toFixed(0)} MB/s of disk; 1.00x = as fast as cp); repository size: du -sb (apparent bytes) of ` +
      `the repository folder after the full and the incremental (Lifeboat's catalog.sqlite and restic's and borg's local caches not counted)`,
  );
  for (const { tool } of tools) console.log(`  ${tool.name}: ${tool.settings}`);
  const raw = (values: number[]): string => values.map((value) => value.toFixed(2)).join(' ');
  console.log(`  raw runs (s): cp ${raw(cpTimes)}`);
  for (const { tool, runs } of tools)
    console.log(
      `    ${tool.name.padEnd(LABEL_WIDTH - 2)}full ${raw(runs.full)} | incremental ${raw(runs.incremental)} | restore ${raw(runs.restore)} | ` +
        `MB ${runs.bytes.map((bytes) => Math.round(bytes / 1e6)).join(' ')}`,
    );
}
