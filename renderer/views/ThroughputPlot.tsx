// A job's throughput over time, from its recorded samples and the live progress since: a small
// SVG line over the job's own time window (started → ended, or now while it runs), with its peak
// and average said in words for screen readers. Samples outside the window (an earlier run of a
// resumed job, figures that arrive after it ended) are not the job's throughput and are left out.
import type { JobSample } from '../../shared/domain.ts';
import { formatBytes } from '../../shared/format.ts';

const WIDTH = 360;
const HEIGHT = 110;

export type PlotWindow = { startMs: number; endMs: number };

export function ThroughputPlot({ samples, window }: { samples: JobSample[]; window: PlotWindow }) {
  const inWindow = samples.filter((sample) => sample.at >= window.startMs && sample.at <= window.endMs);
  const points = inWindow.filter((sample, index) => index === 0 || sample.at > (inWindow[index - 1] as JobSample).at);
  const rates = points.slice(1).map((sample, index) => {
    const before = points[index] as JobSample;
    return { at: sample.at, rate: Math.max(0, (sample.bytesDone - before.bytesDone) / ((sample.at - before.at) / 1000)) };
  });
  if (rates.length < 2) return <p className="muted">Throughput: not enough samples yet.</p>;
  const first = points[0] as JobSample;
  const last = points.at(-1) as JobSample;
  const span = Math.max(1, window.endMs - window.startMs);
  const sampled = Math.max(1, last.at - first.at);
  const peak = Math.max(...rates.map((point) => point.rate), 1);
  const average = (last.bytesDone - first.bytesDone) / (sampled / 1000);
  const line = rates
    .map(
      (point) => `${(((point.at - window.startMs) / span) * WIDTH).toFixed(1)},${(HEIGHT - (point.rate / peak) * (HEIGHT - 4)).toFixed(1)}`,
    )
    .join(' ');
  const summary = `Throughput over ${Math.round(sampled / 1000)} s: peak ${formatBytes(peak)}/s, average ${formatBytes(average)}/s`;
  return (
    <figure className="plot">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} width={WIDTH} height={HEIGHT} role="img" aria-label={summary}>
        <line x1={0} y1={HEIGHT - 0.5} x2={WIDTH} y2={HEIGHT - 0.5} className="axis" />
        <polyline points={line} className="series" fill="none" />
      </svg>
      <figcaption className="muted">{summary}</figcaption>
    </figure>
  );
}
