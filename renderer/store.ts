// Live state that arrives as events: the latest progress of each running job, and which view
// the operator is on. Lists that come from requests live in react-query's cache.
import { create } from 'zustand';
import type { JobProgress } from '../shared/domain.ts';

export type View = 'inventory' | 'jobs' | 'restore' | 'files' | 'tape';

type ConsoleState = {
  view: View;
  wizardVm: string | null;
  progress: Record<string, JobProgress>;
  show(view: View, wizardVm?: string | null): void;
  setProgress(progress: JobProgress): void;
};

export const useConsole = create<ConsoleState>((set) => ({
  view: 'inventory',
  wizardVm: null,
  progress: {},
  show: (view, wizardVm = null) => set({ view, wizardVm }),
  setProgress: (progress) => set((state) => ({ progress: { ...state.progress, [progress.jobId]: progress } })),
}));
