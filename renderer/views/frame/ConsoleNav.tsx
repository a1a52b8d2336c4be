// The sidebar: every view in the order an operator reaches for them, with the jobs that are
// active and those that wait for the operator counted beside Jobs.
import { Badge, Nav, NavItem, NavList, PageSidebar, PageSidebarBody } from '@patternfly/react-core';
import { useJobs } from '../../api/queries.ts';
import { useConsole, type View } from '../../store.ts';

const items: { view: View; label: string }[] = [
  { view: 'home', label: 'Home' },
  { view: 'jobs', label: 'Jobs' },
  { view: 'restore', label: 'Restore VM' },
  { view: 'files', label: 'Files' },
  { view: 'instant', label: 'Instant Recovery' },
  { view: 'inventory', label: 'Inventory' },
  { view: 'tape', label: 'Tape' },
  { view: 'copies', label: 'Copies' },
  { view: 'arrays', label: 'Arrays' },
  { view: 'movers', label: 'Movers' },
  { view: 'rehearsal', label: 'Rehearsal' },
  { view: 'settings', label: 'Settings' },
];

/** "2 active", "1 need you": the counts beside Jobs, read out with their words. */
function JobCounts() {
  const jobs = useJobs();
  const active = jobs.data?.filter((job) => job.state === 'running' || job.state === 'queued').length ?? 0;
  const waiting = jobs.data?.filter((job) => job.state === 'waiting-for-operator').length ?? 0;
  return (
    <>
      {active > 0 && (
        <Badge isRead className="pf-v6-u-ml-sm">
          <span className="pf-v6-u-screen-reader"> </span>
          {active}
          <span className="pf-v6-u-screen-reader"> active</span>
        </Badge>
      )}
      {waiting > 0 && (
        <Badge className="pf-v6-u-ml-sm">
          <span className="pf-v6-u-screen-reader"> </span>
          {waiting} need you
        </Badge>
      )}
    </>
  );
}

export function ConsoleNav() {
  const view = useConsole((state) => state.view);
  const show = useConsole((state) => state.show);
  return (
    <PageSidebar>
      <PageSidebarBody>
        <Nav aria-label="Main">
          <NavList>
            {items.map((item) => (
              <NavItem key={item.view} component="button" isActive={view === item.view} onClick={() => show(item.view)}>
                {item.label}
                {item.view === 'jobs' && <JobCounts />}
              </NavItem>
            ))}
          </NavList>
        </Nav>
      </PageSidebarBody>
    </PageSidebar>
  );
}
