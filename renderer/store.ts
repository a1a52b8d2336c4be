// Live state that arrives as events: the latest progress of each running job, notices for the
// operator, and which view is shown. Lists that come from requests live in react-query's cache.
import { create } from 'zustand';
import type { FileEntry, JobProgress } from '../shared/domain.ts';
import { answersForVms, type WizardAnswers } from './restore-answers.ts';
import { afterPress } from './after-press.ts';

export type View =
  'home' | 'inventory' | 'movers' | 'jobs' | 'restore' | 'instant' | 'files' | 'tape' | 'arrays' | 'copies' | 'rehearsal' | 'settings';

/** The browser console's link to the engine (renderer/api/websocket.ts). */
export type ConnectionState =
  | { state: 'connected' }
  | { state: 'reconnecting'; since: number; attempt: number; reason: string }
  /** Nothing to reconnect to: the session is not known any more. */
  | { state: 'lost'; reason: string };

export type Notice = { id: number; tone: 'info' | 'attention' | 'bad'; text: string; jobId: string | null };

const NOTICE_LIMIT = 5;

/** An item in the Files view's tray; `size` is a file's (a folder's is known once archived). */
export type PickedItem = { path: string; type: FileEntry['type']; size: number };

/** The Files view's tree and tray, kept here so they are as the operator left them on return. */
export type FilesState = {
  vm: string | null;
  /** null: the VM's newest point. */
  point: string | null;
  expanded: string[];
  picked: PickedItem[];
  /** The row shown selected: a search hit opened, or the file previewed. */
  focused: string | null;
  scrollTop: number;
  layout: 'keep' | 'flatten';
  /** What the index was searched for (its hits shown again on return). */
  search: string;
};

const freshFiles: FilesState = {
  vm: null,
  point: null,
  expanded: ['/'],
  picked: [],
  focused: null,
  scrollTop: 0,
  layout: 'keep',
  search: '',
};

export type ConsoleState = {
  view: View;
  /** What the restore wizard opens with: the VMs picked elsewhere, or a failed job's answers (on
   * its summary). `opening` counts the openings: each one starts the wizard afresh. */
  wizard: { answers: WizardAnswers; atSummary: boolean; opening: number } | null;
  /** The job the queue's detail panel shows. */
  selectedJob: string | null;
  progress: Record<string, JobProgress>;
  notices: Notice[];
  /** The browser console's link to the engine (the app's IPC is always connected). */
  connection: ConnectionState;
  setConnection(connection: ConnectionState): void;
  /** A view; for the wizard, optionally the VM to restore. */
  show(view: View, wizardVm?: string | null): void;
  /** The wizard again with a failed job's answers, at its summary: edit and retry. */
  retryWizard(answers: WizardAnswers): void;
  selectJob(jobId: string | null): void;
  /** The queue with this job's detail open: where every view that starts a job goes. */
  openJob(jobId: string): void;
  /** Many progress events at once: one state change, one render. */
  setProgress(batch: JobProgress[]): void;
  notify(notice: Omit<Notice, 'id'>): void;
  dismiss(id: number): void;
  /** Takes back what a job asked of the operator (it no longer waits: answered, cancelled, ended). */
  withdrawAttention(jobId: string): void;
  files: FilesState;
  setFiles(change: Partial<FilesState>): void;
  /** Another VM or point: a fresh tree and an empty tray (picked paths name items of one point). */
  browseFiles(vm: string | null, point: string | null): void;
};

let nextNotice = 1;
let nextOpening = 1;

export const useConsole = create<ConsoleState>((set) => ({
  view: 'home',
  wizard: null,
  selectedJob: null,
  progress: {},
  notices: [],
  connection: { state: 'connected' },
  setConnection: (connection) => set({ connection }),
  show: (view, wizardVm = null) =>
    set({
      view,
      wizard: view === 'restore' ? { answers: answersForVms(wizardVm ? [wizardVm] : []), atSummary: false, opening: nextOpening++ } : null,
    }),
  retryWizard: (answers) => set({ view: 'restore', wizard: { answers, atSummary: true, opening: nextOpening++ } }),
  selectJob: (selectedJob) => set({ selectedJob }),
  openJob: (jobId) => set({ view: 'jobs', wizard: null, selectedJob: jobId }),
  setProgress: (batch) =>
    set((state) => {
      const progress = { ...state.progress };
      for (const item of batch) progress[item.jobId] = item;
      return { progress };
    }),
  // Notices come and go above the view: never while a button is held, or the view would move under the click.
  notify: (notice) =>
    afterPress(() => set((state) => ({ notices: [...state.notices, { ...notice, id: nextNotice++ }].slice(-NOTICE_LIMIT) }))),
  dismiss: (id) => set((state) => ({ notices: state.notices.filter((notice) => notice.id !== id) })),
  files: freshFiles,
  setFiles: (change) => set((state) => ({ files: { ...state.files, ...change } })),
  browseFiles: (vm, point) =>
    set((state) => ({ files: { ...freshFiles, layout: state.files.layout, search: state.files.search, vm, point } })),
  withdrawAttention: (jobId) =>
    afterPress(() =>
      set((state) => ({ notices: state.notices.filter((notice) => !(notice.tone === 'attention' && notice.jobId === jobId)) })),
    ),
}));
