// Restore rehearsal: pick VMs and an isolated target, start; then the history of rehearsals with
// each VM's result and measured RTO, and the report to hand to an auditor.
// Tables are role="table": PatternFly's default role="grid" promises arrow-key navigation they do not have.
import { useState, type FormEvent } from 'react';
import {
  ActionGroup,
  Button,
  Checkbox,
  Content,
  EmptyState,
  Form,
  FormGroup,
  FormSelect,
  FormSelectOption,
  Grid,
  GridItem,
  Radio,
  TextInput,
} from '@patternfly/react-core';
import { Caption, Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { Job } from '../../shared/domain.ts';
import { useApi, useHosts, useJobs, useVms } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { formatTime } from './time.ts';
import { toggled } from './toggled.ts';
import { InlineError } from './common/InlineError.tsx';
import { SectionCard } from './common/SectionCard.tsx';
import { StateLabel } from './common/StateLabel.tsx';

type Outcome = { vm: string; point: number; state: 'passed' | 'failed'; check: string; rtoSeconds: number | null; error: string | null };

function ReportLink({ job }: { job: Job }) {
  const api = useApi();
  const [href, setHref] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (typeof job.result?.report !== 'string') return <span className="pf-v6-u-text-color-subtle">no report</span>;
  if (href)
    return (
      <a href={href} download={`lifeboat-rehearsal-${job.id.slice(0, 8)}.html`}>
        Download the report
      </a>
    );
  const load = (): void => {
    api.invoke('rehearsal.report', { jobId: job.id }).then(
      ({ html }) => setHref(`data:text/html;charset=utf-8,${encodeURIComponent(html)}`),
      (failure: Error) => setError(failure.message),
    );
  };
  return (
    <>
      <Button variant="secondary" size="sm" onClick={load}>
        Prepare the report of {formatTime(job.createdAt)}
      </Button>
      <InlineError error={error} />
    </>
  );
}

function History() {
  const jobs = useJobs();
  const rehearsals = (jobs.data ?? []).filter((job) => job.kind === 'rehearsal');
  if (rehearsals.length === 0) return <EmptyState headingLevel="h3" titleText="No rehearsals yet" variant="xs" />;
  return (
    <Table role="table" variant="compact">
      <Caption>Past rehearsals</Caption>
      <Thead>
        <Tr>
          <Th>Started</Th>
          <Th>State</Th>
          <Th>VM</Th>
          <Th>Result</Th>
          <Th>RTO</Th>
          <Th>Report</Th>
        </Tr>
      </Thead>
      <Tbody>
        {rehearsals.flatMap((job) => {
          const outcomes = (job.result?.vms as Outcome[] | undefined) ?? [];
          return (outcomes.length > 0 ? outcomes : [null]).map((outcome, index) => (
            <Tr key={`${job.id}-${index}`} data-rehearsal={job.id}>
              <Td dataLabel="Started">{index === 0 ? formatTime(job.createdAt) : ''}</Td>
              <Td dataLabel="State">{index === 0 && <StateLabel state={job.state} />}</Td>
              <Td dataLabel="VM">{outcome?.vm ?? '—'}</Td>
              <Td dataLabel="Result">
                {outcome ? (outcome.state === 'passed' ? `passed: ${outcome.check}` : `failed: ${outcome.error ?? ''}`) : ''}
              </Td>
              <Td dataLabel="RTO">{outcome?.rtoSeconds != null ? `${outcome.rtoSeconds} s` : '—'}</Td>
              <Td dataLabel="Report">{index === 0 && <ReportLink job={job} />}</Td>
            </Tr>
          ));
        })}
      </Tbody>
    </Table>
  );
}

export function RehearsalView() {
  const api = useApi();
  const vms = useVms();
  const hosts = useHosts();
  const openJob = useConsole((state) => state.openJob);
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [where, setWhere] = useState<'local' | 'vsphere'>('local');
  const [path, setPath] = useState('');
  const [host, setHost] = useState('');
  const [network, setNetwork] = useState('');
  const [keep, setKeep] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const toggle = (id: string): void => setPicked(toggled(picked, id));
  const start = (event: FormEvent): void => {
    event.preventDefault();
    const target =
      where === 'local'
        ? { kind: 'local' as const, path }
        : { kind: 'vsphere' as const, host, ...(network.trim() ? { network: network.trim() } : {}) };
    api.invoke('rehearsal.start', { vms: [...picked], point: 'latest', target, keep }).then(
      ({ job }) => openJob(job.id),
      (failure: Error) => setError(failure.message),
    );
  };
  return (
    <Grid hasGutter>
      <GridItem xl2={5}>
        <SectionCard id="rehearsal-heading" title="Restore rehearsal">
          <Content component="p" className="pf-v6-u-text-color-subtle">
            Restores the VMs in parallel to an isolated place, checks each one, and measures how long each took to be back and good (its
            RTO).
          </Content>
          <Form onSubmit={start}>
            <FormGroup role="group" isStack fieldId="rehearse-vms" label="VMs (latest restore point)">
              {(vms.data ?? []).map((vm) => (
                <Checkbox
                  key={vm.id}
                  id={`rehearse-${vm.id}`}
                  label={vm.name}
                  isChecked={picked.has(vm.id)}
                  onChange={() => toggle(vm.id)}
                />
              ))}
            </FormGroup>
            <FormGroup role="radiogroup" isStack fieldId="rehearse-where" label="Isolated target">
              <Radio
                id="rehearse-local"
                name="where"
                label="A local folder (copies checked block by block)"
                isChecked={where === 'local'}
                onChange={() => setWhere('local')}
              />
              <Radio
                id="rehearse-vsphere"
                name="where"
                label="A vSphere host (VMs checked by powering on)"
                isChecked={where === 'vsphere'}
                onChange={() => setWhere('vsphere')}
                isDisabled={(hosts.data ?? []).length === 0}
              />
            </FormGroup>
            {where === 'local' ? (
              <FormGroup label="Folder" fieldId="rehearse-folder">
                <TextInput id="rehearse-folder" value={path} onChange={(_event, value) => setPath(value)} placeholder="/srv/rehearsal" />
              </FormGroup>
            ) : (
              <>
                <FormGroup label="Host" fieldId="rehearse-host">
                  <FormSelect id="rehearse-host" value={host} onChange={(_event, value) => setHost(value)}>
                    <FormSelectOption value="" label="Choose…" />
                    {(hosts.data ?? []).map((entry) => (
                      <FormSelectOption key={entry.id} value={entry.name} label={entry.name} />
                    ))}
                  </FormSelect>
                </FormGroup>
                <FormGroup label="Isolated network (port group)" fieldId="rehearse-network">
                  <TextInput
                    id="rehearse-network"
                    value={network}
                    onChange={(_event, value) => setNetwork(value)}
                    placeholder="leave empty to keep the backed-up mapping"
                  />
                </FormGroup>
              </>
            )}
            <Checkbox
              id="rehearse-keep"
              label="Keep the rehearsal VMs afterwards"
              isChecked={keep}
              onChange={(_event, checked) => setKeep(checked)}
            />
            <InlineError error={error} />
            <ActionGroup>
              <Button type="submit" variant="primary" isDisabled={picked.size === 0 || (where === 'local' ? !path.trim() : !host)}>
                Start the rehearsal of {picked.size} VM(s)
              </Button>
            </ActionGroup>
          </Form>
        </SectionCard>
      </GridItem>
      <GridItem xl2={7}>
        <SectionCard id="rehearsal-history-heading" title="History">
          <History />
        </SectionCard>
      </GridItem>
    </Grid>
  );
}
