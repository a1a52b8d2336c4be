// The console's frame: navigation between inventory, jobs and the restore wizard.
import { useJobs } from './api/queries.ts';
import { useConsole, type View } from './store.ts';
import { Inventory } from './views/Inventory.tsx';
import { JobQueue } from './views/JobQueue.tsx';
import { RestoreWizard } from './views/RestoreWizard.tsx';
import { FilesView } from './views/FilesView.tsx';
import { TapeView } from './views/TapeView.tsx';
import { PromptDialog } from './views/PromptDialog.tsx';
import { Notices } from './views/Notices.tsx';
import { ConnectionBanner } from './views/ConnectionBanner.tsx';
import { RehearsalView } from './views/RehearsalView.tsx';
import { InstantView } from './views/InstantView.tsx';
import { ArraysView } from './views/ArraysView.tsx';
import { CopiesView } from './views/CopiesView.tsx';
import { MoversView } from './views/MoversView.tsx';

const tabs: { view: View; label: string }[] = [
  { view: 'inventory', label: 'Inventory' },
  { view: 'movers', label: 'Movers' },
  { view: 'jobs', label: 'Jobs' },
  { view: 'restore', label: 'Restore VM' },
  { view: 'instant', label: 'Instant Recovery' },
  { view: 'files', label: 'Files' },
  { view: 'tape', label: 'Tape' },
  { view: 'arrays', label: 'Arrays' },
  { view: 'copies', label: 'Copies' },
  { view: 'rehearsal', label: 'Rehearsal' },
];

export function App() {
  const view = useConsole((state) => state.view);
  const show = useConsole((state) => state.show);
  const jobs = useJobs();
  const active = jobs.data?.filter((job) => job.state === 'running' || job.state === 'queued').length ?? 0;
  const waiting = jobs.data?.filter((job) => job.state === 'waiting-for-operator').length ?? 0;
  return (
    <div className="app">
      <header>
        <h1>Lifeboat</h1>
        <nav aria-label="Main">
          {tabs.map((tab) => (
            <button key={tab.view} aria-current={view === tab.view ? 'page' : undefined} onClick={() => show(tab.view)}>
              {tab.label}
              {tab.view === 'jobs' && active > 0 && (
                <span className="count">
                  <span className="visually-hidden"> </span>
                  {active}
                  <span className="visually-hidden"> active</span>
                </span>
              )}
              {tab.view === 'jobs' && waiting > 0 && (
                <span className="count attention">
                  <span className="visually-hidden"> </span>
                  {waiting} need you
                </span>
              )}
            </button>
          ))}
        </nav>
      </header>
      <ConnectionBanner />
      <Notices />
      <PromptDialog />
      <main>
        {view === 'inventory' && <Inventory />}
        {view === 'movers' && <MoversView />}
        {view === 'jobs' && <JobQueue />}
        {view === 'restore' && <RestoreWizard />}
        {view === 'instant' && <InstantView />}
        {view === 'files' && <FilesView />}
        {view === 'tape' && <TapeView />}
        {view === 'arrays' && <ArraysView />}
        {view === 'copies' && <CopiesView />}
        {view === 'rehearsal' && <RehearsalView />}
      </main>
    </div>
  );
}
