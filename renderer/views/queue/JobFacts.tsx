// What a job's result tells beyond its state: where the data movers' time went, which movers
// carried each disk, and the tapes it read.
import { Progress, ProgressMeasureLocation, ProgressSize, Title } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { Job } from '../../../shared/domain.ts';
import { formatBytes } from '../../../shared/format.ts';
import { carriedBy } from '../carried-by.ts';

/** What a stage's name leaves unsaid. */
const stageNotes: Record<string, string> = { network: 'repository → mover' };

export function StageBars({ stages, bottleneck }: { stages: Record<string, number>; bottleneck: string | undefined }) {
  const total = Object.values(stages).reduce((sum, seconds) => sum + seconds, 0);
  if (total <= 0) return null;
  return (
    <section aria-labelledby="stages-heading">
      <Title headingLevel="h3" id="stages-heading">
        Where the time goes
      </Title>
      {bottleneck && (
        <p>
          Limited by <strong>{bottleneck}</strong> ({Math.round(((stages[bottleneck] ?? 0) * 100) / total)}% of the data movers' busy time).
        </p>
      )}
      {Object.entries(stages)
        .sort((a, b) => b[1] - a[1])
        .map(([stage, seconds]) => (
          <Progress
            key={stage}
            title={stageNotes[stage] ? `${stage} (${stageNotes[stage]})` : stage}
            value={(seconds * 100) / total}
            label={`${seconds.toFixed(1)} s`}
            valueText={`${stage}: ${seconds.toFixed(1)} s`}
            measureLocation={ProgressMeasureLocation.outside}
            size={ProgressSize.sm}
          />
        ))}
    </section>
  );
}

/** The data movers that carried each disk; a reassignment shows the mover that lost it, then the one that finished it. */
export function CarriedBy({ job }: { job: Job }) {
  const disks = carriedBy(job.result);
  if (disks.length === 0) return null;
  return (
    <section aria-labelledby="carried-by-heading">
      <Title headingLevel="h3" id="carried-by-heading">
        Data movers
      </Title>
      <ul className="pf-v6-c-list pf-m-plain">
        {disks.map(({ disk, movers }) => (
          <li key={disk}>
            Disk {disk} carried by {movers.join(' → ')}
          </li>
        ))}
      </ul>
    </section>
  );
}

type TapeRead = { barcode: string; loads: number; passes: number; starvedEvents: number; bytesRead: number };

export function TapesRead({ job }: { job: Job }) {
  const tapes = (job.result?.tapes as TapeRead[] | undefined) ?? [];
  if (tapes.length === 0) return null;
  return (
    <Table variant="compact" aria-label="Tapes read" role="table">
      <caption>Tapes read</caption>
      <Thead>
        <Tr>
          <Th>Barcode</Th>
          <Th>Loads</Th>
          <Th>Passes</Th>
          <Th>Drive-starved</Th>
          <Th>Read</Th>
        </Tr>
      </Thead>
      <Tbody>
        {tapes.map((tape) => (
          <Tr key={tape.barcode}>
            <Td dataLabel="Barcode">{tape.barcode}</Td>
            <Td dataLabel="Loads">{tape.loads}</Td>
            <Td dataLabel="Passes">{tape.passes}</Td>
            <Td dataLabel="Drive-starved">{tape.starvedEvents}</Td>
            <Td dataLabel="Read">{formatBytes(tape.bytesRead)}</Td>
          </Tr>
        ))}
      </Tbody>
    </Table>
  );
}
