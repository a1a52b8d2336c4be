// The console's requests, as react-query hooks; engine events keep the cached job list current
// without polling.
import { QueryClient, useQuery } from '@tanstack/react-query';
import { createContext, useContext, useEffect } from 'react';
import type { LifeboatApi } from '../../shared/contract.ts';
import type { Job } from '../../shared/domain.ts';
import { useConsole } from '../store.ts';

export const ApiContext = createContext<LifeboatApi | null>(null);

export function useApi(): LifeboatApi {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi outside ApiContext');
  return api;
}

export const useVms = () => {
  const api = useApi();
  return useQuery({ queryKey: ['vms'], queryFn: () => api.invoke('vms.list', {}) });
};

export const usePoints = (vm: string | null) => {
  const api = useApi();
  return useQuery({ queryKey: ['points', vm], queryFn: () => api.invoke('points.list', { vm: vm as string }), enabled: vm !== null });
};

export const useHosts = () => {
  const api = useApi();
  return useQuery({ queryKey: ['hosts'], queryFn: () => api.invoke('hosts.list', {}) });
};

export const useHostInventory = (host: string | null) => {
  const api = useApi();
  return useQuery({ queryKey: ['host-inventory', host], queryFn: () => api.invoke('hosts.inventory', { host: host as string }), enabled: host !== null, staleTime: 30_000 });
};

export const useJobs = () => {
  const api = useApi();
  return useQuery({ queryKey: ['jobs'], queryFn: () => api.invoke('jobs.list', {}) });
};

export const useTapeInventory = () => {
  const api = useApi();
  return useQuery({ queryKey: ['tape-inventory'], queryFn: () => api.invoke('tape.inventory', {}), retry: false });
};

export const useTapeCopies = () => {
  const api = useApi();
  return useQuery({ queryKey: ['tape-copies'], queryFn: () => api.invoke('tape.copies', {}) });
};

export const useOpenPrompts = () => {
  const api = useApi();
  return useQuery({ queryKey: ['prompts'], queryFn: () => api.invoke('prompts.list', { open: true }) });
};

/** Subscribes once to engine events and folds them into the caches. */
export function useEngineEvents(api: LifeboatApi, queries: QueryClient): void {
  const setProgress = useConsole((state) => state.setProgress);
  useEffect(() => {
    const offUpdated = api.on('job.updated', (job) => {
      queries.setQueryData<Job[]>(['jobs'], (jobs = []) => (jobs.some((known) => known.id === job.id) ? jobs.map((known) => (known.id === job.id ? job : known)) : [job, ...jobs]));
      if (job.state === 'succeeded' && job.kind === 'backup') {
        void queries.invalidateQueries({ queryKey: ['vms'] });
        void queries.invalidateQueries({ queryKey: ['points'] });
      }
      if (job.kind.startsWith('tape-')) {
        void queries.invalidateQueries({ queryKey: ['tape-inventory'] });
        if (job.state === 'succeeded') void queries.invalidateQueries({ queryKey: ['tape-copies'] });
      }
    });
    const offPrompt = api.on('prompt.updated', () => {
      void queries.invalidateQueries({ queryKey: ['prompts'] });
      void queries.invalidateQueries({ queryKey: ['tape-inventory'] });
    });
    const offProgress = api.on('job.progress', setProgress);
    return () => {
      offUpdated();
      offProgress();
      offPrompt();
    };
  }, [api, queries, setProgress]);
}
