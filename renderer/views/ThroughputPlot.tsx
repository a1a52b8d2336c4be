// A job's throughput over time, drawn by uPlot: MB/s against the clock, over the job's own time
// window (started → ended, or now while it runs), the value under the cursor in the legend, and
// the peak and average in words for screen readers. Samples outside the window (an earlier run of
// a resumed job, figures that arrive after it ended) are not the job's throughput and are left out.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { JobSample } from '../../shared/domain.ts';
import { formatBytes } from '../../shared/format.ts';

const WIDTH = 420;
const HEIGHT = 160;
const MB = 1e6;

export type PlotWindow = { startMs: number; endMs: number };

type Rate = { at: number; rate: number };

/** Bytes per second between consecutive samples inside the window. */
function ratesOf(samples: JobSample[], window: PlotWindow): { rates: Rate[]; first?: JobSample; last?: JobSample } {
  const inWindow = samples.filter((sample) => sample.at >= window.startMs && sample.at <= window.endMs);
  const points = inWindow.filter((sample, index) => index === 0 || sample.at > (inWindow[index - 1] as JobSample).at);
  const rates = points.slice(1).map((sample, index) => {
    const before = points[index] as JobSample;
    return { at: sample.at, rate: Math.max(0, (sample.bytesDone - before.bytesDone) / ((sample.at - before.at) / 1000)) };
  });
  return { rates, first: points[0], last: points.at(-1) };
}

function Plot({ rates, window, label }: { rates: Rate[]; window: PlotWindow; label: string }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data: uPlot.AlignedData = [rates.map((point) => point.at / 1000), rates.map((point) => point.rate / MB)];
  useEffect(() => {
    const element = host.current;
    if (!element) return;
    // Canvas strokes take a colour, not a CSS variable: the text colour of the theme in force.
    const ink = getComputedStyle(element).color;
    const axis: uPlot.Axis = { stroke: ink, grid: { stroke: 'rgba(128,128,128,0.25)' }, ticks: { stroke: 'rgba(128,128,128,0.4)' } };
    plot.current = new uPlot(
      {
        width: WIDTH,
        height: HEIGHT,
        scales: {
          x: { time: true, range: () => [window.startMs / 1000, window.endMs / 1000] },
          y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
        },
        axes: [axis, { ...axis, label: 'MB/s', values: (_u, ticks) => ticks.map((tick) => tick.toFixed(tick < 10 ? 1 : 0)) }],
        series: [
          { label: 'Time' },
          { label: 'Throughput', stroke: '#2b9af3', width: 2, value: (_u, value) => (value === null ? '—' : `${value.toFixed(1)} MB/s`) },
        ],
        legend: { live: true },
      },
      data,
      element,
    );
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
    // The plot is made once per window start; new samples go through setData below.
  }, [window.startMs]);
  useEffect(() => {
    plot.current?.setScale('x', { min: window.startMs / 1000, max: window.endMs / 1000 });
    plot.current?.setData(data, false);
  });
  return <div ref={host} role="img" aria-label={label} />;
}

export function ThroughputPlot({ samples, window }: { samples: JobSample[]; window: PlotWindow }) {
  const { rates, first, last } = ratesOf(samples, window);
  if (rates.length < 2 || !first || !last) return <p className="pf-v6-u-color-200">Throughput: not enough samples yet.</p>;
  const sampled = Math.max(1, last.at - first.at);
  const peak = Math.max(...rates.map((point) => point.rate), 1);
  const average = (last.bytesDone - first.bytesDone) / (sampled / 1000);
  const summary = `Throughput over ${Math.round(sampled / 1000)} s: peak ${formatBytes(peak)}/s, average ${formatBytes(average)}/s`;
  return (
    <figure className="plot">
      <Plot rates={rates} window={window} label={summary} />
      <figcaption className="pf-v6-u-color-200">{summary}</figcaption>
    </figure>
  );
}
