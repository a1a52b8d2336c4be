// The console's frame: a PatternFly page with the masthead (product, theme), the sidebar's
// navigation between views with what needs attention counted, and the view shown.
import { Page, PageSection, SkipToContent } from '@patternfly/react-core';
import type { ComponentType } from 'react';
import { useConsole, type View } from './store.ts';
import { ConsoleMasthead } from './views/frame/ConsoleMasthead.tsx';
import { ConsoleNav } from './views/frame/ConsoleNav.tsx';
import { Home } from './views/Home.tsx';
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
import { SettingsView } from './views/SettingsView.tsx';

const MAIN_ID = 'console-main';

const views: Record<View, ComponentType> = {
  home: Home,
  jobs: JobQueue,
  restore: RestoreWizard,
  files: FilesView,
  instant: InstantView,
  inventory: Inventory,
  tape: TapeView,
  copies: CopiesView,
  arrays: ArraysView,
  movers: MoversView,
  rehearsal: RehearsalView,
  settings: SettingsView,
};

export function App() {
  const view = useConsole((state) => state.view);
  const Shown = views[view];
  return (
    <Page
      masthead={<ConsoleMasthead />}
      sidebar={<ConsoleNav />}
      isManagedSidebar
      mainContainerId={MAIN_ID}
      skipToContent={<SkipToContent href={`#${MAIN_ID}`}>Skip to content</SkipToContent>}
    >
      <PageSection padding={{ default: 'noPadding' }}>
        <ConnectionBanner />
        <Notices />
        <PromptDialog />
      </PageSection>
      <PageSection isFilled>
        <Shown />
      </PageSection>
    </Page>
  );
}
