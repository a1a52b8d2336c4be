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
    });
    const offProgress = api.on('job.progress', setProgress);
    return () => {
      offUpdated();
      offProgress();
    };
  }, [api, queries, setProgress]);
}
