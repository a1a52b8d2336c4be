// Repositories and copies at a glance: how many places hold backups, whether the copy policy
// can be met, and the points that lack a copy it asks for or whose copy went missing.
import { DescriptionList, DescriptionListDescription, DescriptionListGroup, DescriptionListTerm, Label } from '@patternfly/react-core';
import type { CopyStatus } from '../../../shared/domain.ts';
import { useCopyStatus, useRepos } from '../../api/queries.ts';
import { HomeCard, Nothing } from './HomeCard.tsx';

function pointsOf(status: CopyStatus) {
  return status.vms.flatMap((vm) => vm.points);
}

export function RepositoryHealth() {
  const repos = useRepos();
  const status = useCopyStatus();
  const copies = repos.data?.filter((repo) => repo.role === 'copy').length ?? 0;
  const points = status.data ? pointsOf(status.data) : [];
  const lacking = points.filter((point) => !point.meetsPolicy).length;
  const missing = points.filter((point) => point.copies.some((copy) => copy.state === 'missing')).length;
  const healthy = status.data !== undefined && status.data.problem === null && lacking === 0 && missing === 0;
  return (
    <HomeCard title="Repositories and copies" view="copies" goTo="Go to copies">
      {repos.isPending || status.isPending ? (
        <Nothing>Checking the repositories…</Nothing>
      ) : repos.isError || status.isError ? (
        <Nothing>Cannot check the repositories: {(repos.error ?? status.error)?.message}</Nothing>
      ) : (
        <DescriptionList isCompact isHorizontal>
          <DescriptionListGroup>
            <DescriptionListTerm>Health</DescriptionListTerm>
            <DescriptionListDescription>
              <Label color={healthy ? 'green' : 'orange'} isCompact>
                {healthy ? 'Healthy' : 'Needs attention'}
              </Label>
            </DescriptionListDescription>
          </DescriptionListGroup>
          <DescriptionListGroup>
            <DescriptionListTerm>Repositories</DescriptionListTerm>
            <DescriptionListDescription>
              1 primary, {copies} {copies === 1 ? 'copy' : 'copies'}
            </DescriptionListDescription>
          </DescriptionListGroup>
          <DescriptionListGroup>
            <DescriptionListTerm>Copy policy</DescriptionListTerm>
            <DescriptionListDescription>
              {status.data.policy.toUpperCase()}
              {status.data.problem && `: cannot be met (${status.data.problem})`}
            </DescriptionListDescription>
          </DescriptionListGroup>
          <DescriptionListGroup>
            <DescriptionListTerm>Points</DescriptionListTerm>
            <DescriptionListDescription>
              {points.length} in all; {lacking} short of the policy; {missing} with a missing copy
            </DescriptionListDescription>
          </DescriptionListGroup>
        </DescriptionList>
      )}
    </HomeCard>
  );
}
