// Home, the console's first view, answers "what needs me?": jobs waiting for the operator,
// jobs running, recent failures, and the health of repositories, tapes and Instant Recovery,
// each card linking to the view where it is acted on.
import { Content, Grid, GridItem, Stack, Title } from '@patternfly/react-core';
import { InstantSessions } from './home/InstantSessions.tsx';
import { JobsNeedingYou } from './home/JobsNeedingYou.tsx';
import { RecentFailures } from './home/RecentFailures.tsx';
import { RepositoryHealth } from './home/RepositoryHealth.tsx';
import { RunningJobs } from './home/RunningJobs.tsx';
import { TapeLibrary } from './home/TapeLibrary.tsx';

export function Home() {
  return (
    <Stack hasGutter>
      <Content>
        <Title headingLevel="h2">What needs you</Title>
      </Content>
      <Grid hasGutter md={6} xl={4}>
        <GridItem>
          <JobsNeedingYou />
        </GridItem>
        <GridItem>
          <RunningJobs />
        </GridItem>
        <GridItem>
          <RecentFailures />
        </GridItem>
        <GridItem>
          <RepositoryHealth />
        </GridItem>
        <GridItem>
          <TapeLibrary />
        </GridItem>
        <GridItem>
          <InstantSessions />
        </GridItem>
      </Grid>
    </Stack>
  );
}
