// The console's requests, as react-query hooks; engine events keep the cached job list current
// without polling.
import { QueryClient, useQuery } from '@tanstack/react-query';
import { createContext, useContext, useEffect } from 'react';
import type { LifeboatApi } from '../../shared/contract.ts';
import type { Job, JobKind, JobProgress, JobQueuePlace } from '../../shared/domain.ts';
import { useConsole } from '../store.ts';
import { batchNotices } from './job-notices.ts';

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
  return useQuery({
    queryKey: ['host-inventory', host],
    queryFn: () => api.invoke('hosts.inventory', { host: host as string }),
    enabled: host !== null,
    staleTime: 30_000,
  });
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

export const useJobDetail = (jobId: string | null) => {
  const api = useApi();
  return useQuery({ queryKey: ['job', jobId], queryFn: () => api.invoke('jobs.get', { jobId: jobId as string }), enabled: jobId !== null });
};

/** Sessions change as events arrive; their counters (bytes read, written, cached) are polled. */
export const useInstantSessions = () => {
  const api = useApi();
  return useQuery({ queryKey: ['instant'], queryFn: () => api.invoke('instant.list', {}), refetchInterval: 2000 });
};

/** Arrays change under restores (clones come and go): polled while shown. */
export const useArrays = () => {
  const api = useApi();
  return useQuery({ queryKey: ['arrays'], queryFn: () => api.invoke('arrays.list', {}), refetchInterval: 2000 });
};

/** Movers connect, drop and carry tasks on their own: polled while shown. */
export const useMovers = () => {
  const api = useApi();
  return useQuery({ queryKey: ['movers'], queryFn: () => api.invoke('movers.list', {}), refetchInterval: 2000 });
};

export const useStorageSnapshots = () => {
  const api = useApi();
  return useQuery({ queryKey: ['storage-snapshots'], queryFn: () => api.invoke('snapshots.list', {}), refetchInterval: 2000 });
};

export const useRepos = () => {
  const api = useApi();
  return useQuery({ queryKey: ['repos'], queryFn: () => api.invoke('repos.list', {}) });
};

/** Copies are checked on disk: polled while shown, a copy that disappears shows as missing. */
export const useCopyStatus = () => {
  const api = useApi();
  return useQuery({ queryKey: ['copy-status'], queryFn: () => api.invoke('copies.status', {}), refetchInterval: 5000 });
};

export const useSettings = () => {
  const api = useApi();
  return useQuery({ queryKey: ['settings'], queryFn: () => api.invoke('settings.get', {}) });
};

export const useCatalogInfo = () => {
  const api = useApi();
  return useQuery({ queryKey: ['catalog'], queryFn: () => api.invoke('catalog.get', {}) });
};

export const useKeys = () => {
  const api = useApi();
  return useQuery({ queryKey: ['keys'], queryFn: () => api.invoke('keys.list', {}) });
};

export const useAzureAccounts = () => {
  const api = useApi();
  return useQuery({ queryKey: ['azure'], queryFn: () => api.invoke('azure.list', {}) });
};

export const useOpenPrompts = () => {
  const api = useApi();
  return useQuery({ queryKey: ['prompts'], queryFn: () => api.invoke('prompts.list', { open: true }) });
};

/** A desktop notification as well, when the operator allowed them. */
function desktopNotify(text: string): void {
  if (typeof Notification !== 'undefined' && Notification.permission === 'granted') new Notification('Lifeboat', { body: text });
}

/** How often queued events are folded into the caches: often enough to look live, rarely enough
 * that a thousand jobs reporting progress cost a few renders a second. */
const FLUSH_MS = 150;
/** Jobs that add or remove VMs on a host when they succeed. */
const hostChangingKinds = new Set<JobKind>([
  'restore-entire-vm',
  'tape-restore',
  'rehearsal',
  'instant-start',
  'instant-stop',
  'instant-migrate',
  'restore-from-snapshot',
]);

/** Subscribes once to engine events and folds them, in batches, into the caches. */
export function useEngineEvents(api: LifeboatApi, queries: QueryClient): void {
  const setProgress = useConsole((state) => state.setProgress);
  const notify = useConsole((state) => state.notify);
  const withdrawAttention = useConsole((state) => state.withdrawAttention);
  useEffect(() => {
    const updates = new Map<string, Job>();
    // Each job's first update in the batch: a job queued and ended within one batch (a short job)
    // still ends after a state the console saw, and gets its notice.
    const firstUpdates = new Map<string, Job>();
    const progress = new Map<string, JobProgress>();
    // The latest places of queued jobs (jobs.queued), folded in after the batch's job updates.
    let places: Map<string, JobQueuePlace> | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const flush = (): void => {
      timer = null;
      if (updates.size > 0) {
        const batch = new Map(updates);
        const first = new Map(firstUpdates);
        updates.clear();
        firstUpdates.clear();
        const before = new Map((queries.getQueryData<Job[]>(['jobs']) ?? []).map((job) => [job.id, job]));
        queries.setQueryData<Job[]>(['jobs'], (jobs = []) => {
          const fresh = [...batch.values()].filter((job) => !before.has(job.id)).reverse();
          return [...fresh, ...jobs.map((known) => batch.get(known.id) ?? known)];
        });
        const shown = batchNotices(before, first, batch);
        // A job that no longer waits (answered, cancelled, ended) no longer needs the operator.
        for (const job of batch.values())
          if (before.get(job.id)?.state === 'waiting-for-operator' && job.state !== 'waiting-for-operator') withdrawAttention(job.id);
        for (const notice of shown) {
          notify(notice);
          desktopNotify(notice.text);
        }
        for (const job of batch.values()) void queries.invalidateQueries({ queryKey: ['job', job.id] });
        const kinds = new Set([...batch.values()].filter((job) => job.state === 'succeeded').map((job) => job.kind));
        if (kinds.has('backup')) {
          void queries.invalidateQueries({ queryKey: ['vms'] });
          void queries.invalidateQueries({ queryKey: ['points'] });
        }
        if (kinds.has('copy') || kinds.has('backup')) void queries.invalidateQueries({ queryKey: ['copy-status'] });
        // These add or remove VMs on a host: the VMs a host lists (to back up, to restore over) change.
        if ([...kinds].some((kind) => hostChangingKinds.has(kind))) void queries.invalidateQueries({ queryKey: ['host-inventory'] });
        if (kinds.has('copy')) void queries.invalidateQueries({ queryKey: ['points'] });
        if ([...batch.values()].some((job) => job.kind.startsWith('tape-'))) {
          void queries.invalidateQueries({ queryKey: ['tape-inventory'] });
          void queries.invalidateQueries({ queryKey: ['tape-copies'] });
        }
      }
      if (places) {
        const latest = places;
        places = null;
        queries.setQueryData<Job[]>(['jobs'], (jobs = []) =>
          jobs.map((job) => (job.state === 'queued' ? { ...job, queue: latest.get(job.id) ?? job.queue } : job)),
        );
      }
      if (progress.size > 0) {
        setProgress([...progress.values()]);
        progress.clear();
      }
    };
    const schedule = (): void => {
      timer ??= setTimeout(flush, FLUSH_MS);
    };
    const offUpdated = api.on('job.updated', (job) => {
      if (!updates.has(job.id)) firstUpdates.set(job.id, job);
      updates.set(job.id, job);
      schedule();
    });
    const offQueued = api.on('jobs.queued', (event) => {
      places = new Map(event.places.map(({ jobId, place }) => [jobId, place]));
      schedule();
    });
    const offProgress = api.on('job.progress', (item) => {
      progress.set(item.jobId, item);
      schedule();
    });
    const offPrompt = api.on('prompt.updated', () => {
      void queries.invalidateQueries({ queryKey: ['prompts'] });
      void queries.invalidateQueries({ queryKey: ['tape-inventory'] });
    });
    const offInstant = api.on('instant.updated', () => void queries.invalidateQueries({ queryKey: ['instant'] }));
    return () => {
      if (timer) clearTimeout(timer);
      offUpdated();
      offQueued();
      offProgress();
      offPrompt();
      offInstant();
    };
  }, [api, queries, setProgress, notify, withdrawAttention]);
}
