// A restore from tape: pick the VMs (the newest point of each on tape), a target folder and
// optionally a staging folder; the pull list shows which tapes are read and which must be brought
// before anything starts.
import { useState, type FormEvent } from 'react';
import { ActionGroup, Button, Checkbox, Content, EmptyState, EmptyStateBody, Form, FormGroup, TextInput } from '@patternfly/react-core';
import type { PullListEntry } from '../../../shared/domain.ts';
import { formatBytes } from '../../../shared/format.ts';
import { useApi, useTapeCopies } from '../../api/queries.ts';
import { useConsole } from '../../store.ts';
import { InlineError } from '../common/InlineError.tsx';
import { AlternateLocation } from '../LocationNote.tsx';
import { formatTime } from '../time.ts';
import { toggled } from '../toggled.ts';
import { PullList } from './PullList.tsx';
import { SectionCard } from '../common/SectionCard.tsx';

export function RestoreFromTape() {
  const api = useApi();
  const copies = useTapeCopies();
  const show = useConsole((state) => state.show);
  const openJob = useConsole((state) => state.openJob);
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [target, setTarget] = useState('');
  const [staging, setStaging] = useState('');
  const [pullList, setPullList] = useState<PullListEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (copies.isPending) return <p role="status">Loading backups on tape…</p>;
  if (copies.isError) return <InlineError error={copies.error.message} />;
  if (copies.data.length === 0)
    return (
      <EmptyState titleText="No backups on tape yet" headingLevel="h2">
        <EmptyStateBody>
          <code>lifeboat tape backup &lt;vm&gt; --pool P</code> writes some.
        </EmptyStateBody>
      </EmptyState>
    );
  // One line per VM: the newest point on tape.
  const latest = [...new Map(copies.data.map((copy) => [copy.vmId, copy])).values()];
  const vms = latest.filter((copy) => picked.has(copy.vmId)).map((copy) => copy.vmId);
  const toggle = (vmId: string): void => {
    setPicked(toggled(picked, vmId));
    setPullList(null);
  };
  const review = (event: FormEvent): void => {
    event.preventDefault();
    api.invoke('tape.pullList', { vms, point: 'latest' }).then(
      (entries) => {
        setPullList(entries);
        setError(null);
      },
      (failure: Error) => setError(failure.message),
    );
  };
  const start = (): void => {
    api
      .invoke('restore.tape', {
        vms,
        point: 'latest',
        target: { kind: 'local', path: target },
        ...(staging.trim() ? { staging: staging.trim() } : {}),
      })
      .then(
        ({ jobs }) => (jobs[0] ? openJob(jobs[0].id) : show('jobs')),
        (failure: Error) => setError(failure.message),
      );
  };
  return (
    <SectionCard id="tape-restore-heading" title="Restore from tape">
      <AlternateLocation what="each VM is restored as a new copy in a folder" />
      <Form onSubmit={review}>
        <FormGroup role="group" isStack label="Backups on tape (newest point of each VM)" fieldId="tape-vms">
          {latest.map((copy) => (
            <Checkbox
              key={copy.vmId}
              id={`tape-vm-${copy.vmId}`}
              isChecked={picked.has(copy.vmId)}
              onChange={() => toggle(copy.vmId)}
              label={`${copy.vmName} · point ${copy.pointSequence} of ${formatTime(copy.pointCreatedAt)} · ${formatBytes(copy.storedBytes)} on ${
                copy.barcodes.join(', ') || 'uncatalogued tapes'
              }`}
            />
          ))}
        </FormGroup>
        <FormGroup label="Target folder (one folder per VM when several)" isRequired fieldId="tape-target">
          <TextInput
            id="tape-target"
            isRequired
            value={target}
            placeholder="/restores/from-tape"
            onChange={(_event, value) => {
              setTarget(value);
              setPullList(null);
            }}
          />
        </FormGroup>
        <FormGroup label="Staging folder (optional: copy the backup from tape first, then restore from it)" fieldId="tape-staging">
          <TextInput
            id="tape-staging"
            value={staging}
            placeholder="leave empty to restore straight from tape"
            onChange={(_event, value) => setStaging(value)}
          />
        </FormGroup>
        <ActionGroup>
          <Button type="submit" variant={pullList ? 'secondary' : 'primary'} isDisabled={vms.length === 0 || !target.trim()}>
            Show the pull list
          </Button>
        </ActionGroup>
      </Form>
      {pullList && (
        <>
          <PullList entries={pullList} />
          <Content component="p">
            Tapes that are not in the library are asked for all at once, in this order, when the restore starts.
          </Content>
          <Button variant="primary" onClick={start}>
            Start restore of {vms.length} VM(s)
          </Button>
        </>
      )}
      <InlineError error={error} />
    </SectionCard>
  );
}
