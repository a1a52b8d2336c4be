// Copies and regions: the repositories and where they are, the copy policy, and per VM each
// point's copies (checked on disk) against the policy, with a copy job to close the gap.
// Tables are role="table": PatternFly's default role="grid" promises arrow-key navigation they do not have.
import { useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import {
  ActionGroup,
  Alert,
  Button,
  Content,
  Flex,
  Form,
  FormGroup,
  Grid,
  GridItem,
  Label,
  Radio,
  Spinner,
  Stack,
} from '@patternfly/react-core';
import { Caption, Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { CopyPolicy, CopyStatus } from '../../shared/domain.ts';
import { useApi, useCopyStatus, useRepos, useSettings } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { formatTime } from './time.ts';
import { TierBadges } from './TierBadges.tsx';
import { InlineError } from './common/InlineError.tsx';
import { SectionCard } from './common/SectionCard.tsx';

const policies: { value: CopyPolicy; label: string }[] = [
  { value: 'none', label: 'None: the primary repository only' },
  { value: 'lrs', label: 'LRS: three copies in the primary region' },
  { value: 'zrs', label: 'ZRS: three copies in separate zones of the primary region' },
  { value: 'grs', label: 'GRS: LRS plus a copy in the paired secondary region' },
];

function PolicyForm({ current }: { current: CopyPolicy }) {
  const api = useApi();
  const queries = useQueryClient();
  const [policy, setPolicy] = useState<CopyPolicy>(current);
  const [error, setError] = useState<string | null>(null);
  const save = (event: FormEvent): void => {
    event.preventDefault();
    setError(null);
    api.invoke('settings.set', { copyPolicy: policy }).then(
      () => {
        void queries.invalidateQueries({ queryKey: ['settings'] });
        void queries.invalidateQueries({ queryKey: ['copy-status'] });
      },
      (failure: Error) => setError(failure.message),
    );
  };
  return (
    <Form onSubmit={save} aria-label="Copy policy">
      <FormGroup role="radiogroup" isStack fieldId="copy-policy" label="Copy policy">
        {policies.map((option) => (
          <Radio
            key={option.value}
            id={`copy-policy-${option.value}`}
            name="policy"
            label={option.label}
            isChecked={policy === option.value}
            onChange={() => setPolicy(option.value)}
          />
        ))}
      </FormGroup>
      <InlineError error={error} />
      <ActionGroup>
        <Button type="submit" variant="primary" isDisabled={policy === current}>
          Set policy
        </Button>
      </ActionGroup>
    </Form>
  );
}

function VmCopies({ vm }: { vm: CopyStatus['vms'][number] }) {
  return (
    <Table role="table" variant="compact">
      <Caption>{vm.vmName}</Caption>
      <Thead>
        <Tr>
          <Th>Point</Th>
          <Th>Taken</Th>
          <Th>Policy</Th>
          <Th>Copies, fastest first</Th>
        </Tr>
      </Thead>
      <Tbody>
        {vm.points.map((point) => (
          <Tr key={point.pointId}>
            <Td dataLabel="Point">#{point.sequence}</Td>
            <Td dataLabel="Taken">{formatTime(point.createdAt)}</Td>
            <Td dataLabel="Policy">
              <Label color={point.meetsPolicy ? 'green' : 'orange'} isCompact>
                {point.meetsPolicy ? 'met' : `lacks ${point.lacking.join(' and ')}`}
              </Label>
            </Td>
            <Td dataLabel="Copies, fastest first">
              <TierBadges copies={point.copies} />
            </Td>
          </Tr>
        ))}
      </Tbody>
    </Table>
  );
}

function CopiesPerVm() {
  const api = useApi();
  const openJob = useConsole((state) => state.openJob);
  const status = useCopyStatus();
  const [error, setError] = useState<string | null>(null);
  const run = (): void => {
    setError(null);
    api.invoke('copies.run', {}).then(
      ({ job }) => openJob(job.id),
      (failure: Error) => setError(failure.message),
    );
  };
  if (status.isPending) return <Spinner size="lg" aria-label="Checking the copies…" />;
  if (status.isError) return <InlineError error={status.error.message} />;
  return (
    <Stack hasGutter>
      <Flex spaceItems={{ default: 'spaceItemsMd' }} alignItems={{ default: 'alignItemsCenter' }}>
        <span>
          Policy <strong>{status.data.policy.toUpperCase()}</strong>
        </span>
        <Button variant="primary" onClick={run} isDisabled={status.data.policy === 'none' || status.data.problem !== null}>
          Run a copy job
        </Button>
      </Flex>
      {status.data.problem && (
        <Alert variant="warning" isInline isPlain component="p" title={`The policy cannot be met: ${status.data.problem}`} />
      )}
      <InlineError error={error} />
      {status.data.vms.map((vm) => (
        <VmCopies key={vm.vmId} vm={vm} />
      ))}
    </Stack>
  );
}

function Repositories() {
  const repos = useRepos();
  const settings = useSettings();
  return (
    <Stack hasGutter>
      {repos.data && (
        <Table role="table" variant="compact" aria-label="Repositories">
          <Thead>
            <Tr>
              <Th>Name</Th>
              <Th>Role</Th>
              <Th>Region / zone</Th>
            </Tr>
          </Thead>
          <Tbody>
            {repos.data.map((site) => (
              <Tr key={site.id}>
                <Td dataLabel="Name" title={site.path}>
                  {site.name}
                </Td>
                <Td dataLabel="Role">{site.role}</Td>
                <Td dataLabel="Region / zone">
                  {site.region} / {site.zone}
                </Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      )}
      <Content component="p" className="pf-v6-u-text-color-subtle">
        Add a copy repository with <code>lifeboat repos add NAME --path DIR --region R --zone Z</code>.
      </Content>
      {settings.data && <PolicyForm key={settings.data.copyPolicy} current={settings.data.copyPolicy} />}
    </Stack>
  );
}

export function CopiesView() {
  return (
    <Grid hasGutter>
      <GridItem md={8}>
        <SectionCard id="copies-heading" title="Copies per VM">
          <CopiesPerVm />
        </SectionCard>
      </GridItem>
      <GridItem md={4}>
        <SectionCard id="repos-heading" title="Repositories">
          <Repositories />
        </SectionCard>
      </GridItem>
    </Grid>
  );
}
