// Item-level restore: pick a VM and a point on its timeline, expand folders (one request each),
// pick files and folders into the tray, preview text and images, search the index (a hit opens its
// folder), then download the picked items or restore them into a folder. The tree and the tray
// live in the store, so they are as the operator left them when they come back.
import {
  Flex,
  FlexItem,
  FormGroup,
  FormSelect,
  FormSelectOption,
  Grid,
  GridItem,
  TextInput,
  Title,
  ToggleGroup,
  ToggleGroupItem,
} from '@patternfly/react-core';
import { useQueries, useQuery } from '@tanstack/react-query';
import type { SearchHit } from '../../shared/domain.ts';
import { useApi, usePoints, useVms } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { FileTree } from './files/FileTree.tsx';
import { Preview } from './files/Preview.tsx';
import { SearchHits } from './files/SearchHits.tsx';
import { Tray } from './files/Tray.tsx';
import { foldersAbove, treeRows } from './files/tree-rows.ts';
import { formatTime } from './time.ts';

export function FilesView() {
  const api = useApi();
  const vms = useVms();
  const { vm, point: chosenPoint, expanded, focused, search: pattern } = useConsole((state) => state.files);
  const setFiles = useConsole((state) => state.setFiles);
  const browseFiles = useConsole((state) => state.browseFiles);
  const points = usePoints(vm);
  const point = chosenPoint ?? points.data?.[0]?.id ?? null;

  const listings = useQueries({
    queries: expanded.map((path) => ({
      queryKey: ['files', vm, point, path],
      queryFn: () => api.invoke('files.list', { vm: vm as string, point: point as string, path }),
      enabled: vm !== null && point !== null,
      staleTime: Infinity,
    })),
  });
  const rows = treeRows(new Map(expanded.map((path, index) => [path, listings[index]?.data])), expanded);
  const previewed = rows.find((row) => row.path === focused && row.entry.type === 'file')?.path ?? null;
  const search = useQuery({
    queryKey: ['search', pattern, vm],
    queryFn: () => api.invoke('files.search', { pattern, ...(vm ? { vm } : {}) }),
    enabled: pattern.trim().length >= 2,
  });

  const toggle = (path: string): void =>
    setFiles({
      expanded: expanded.includes(path)
        ? expanded.filter((candidate) => candidate !== path && !candidate.startsWith(`${path}/`))
        : [...expanded, path],
    });
  /** A hit opens in its newest point: the folders above it open, the hit is selected. */
  const openHit = (hit: SearchHit): void => {
    const newest = hit.versions.reduce((best, version) => (version.sequence > best.sequence ? version : best));
    if (hit.vmId !== vm || newest.pointId !== point) browseFiles(hit.vmId, newest.pointId);
    const opened = useConsole.getState().files.expanded;
    setFiles({ expanded: [...new Set([...opened, ...foldersAbove(hit.path)])], focused: hit.path });
  };

  return (
    <Grid hasGutter>
      <GridItem lg={7}>
        <Flex direction={{ default: 'column' }} spaceItems={{ default: 'spaceItemsMd' }}>
          <Title headingLevel="h2" id="files-heading">
            Files
          </Title>
          <FormGroup label="Virtual machine" fieldId="files-vm">
            <FormSelect id="files-vm" value={vm ?? ''} onChange={(_event, value) => browseFiles(value, null)}>
              <FormSelectOption value="" label="Choose a VM" isDisabled />
              {vms.data?.map((candidate) => (
                <FormSelectOption key={candidate.id} value={candidate.id} label={candidate.name} />
              ))}
            </FormSelect>
          </FormGroup>
          <FormGroup label="Search the index" fieldId="files-search">
            <TextInput
              id="files-search"
              type="search"
              value={pattern}
              onChange={(_event, value) => setFiles({ search: value })}
              placeholder="invoice-2025, *.conf, host?ame"
            />
            <p className="pf-v6-u-font-size-sm pf-v6-u-text-color-subtle">Part of a name, or the whole name with * and ? wildcards.</p>
          </FormGroup>
          {search.data && <SearchHits hits={search.data.hits} gaps={search.data.gaps} onOpen={openHit} />}
          {vm && (
            <ToggleGroup aria-label="Restore points" isCompact>
              {points.data?.map((candidate) => (
                <ToggleGroupItem
                  key={candidate.id}
                  text={`#${candidate.sequence} ${formatTime(candidate.createdAt)}`}
                  isSelected={candidate.id === point}
                  onChange={() => browseFiles(vm, candidate.id)}
                />
              ))}
            </ToggleGroup>
          )}
          {vm && point && <FileTree rows={rows} onToggle={toggle} onPreview={(path) => setFiles({ focused: path })} />}
        </Flex>
      </GridItem>
      <GridItem lg={5}>
        <Flex direction={{ default: 'column' }} spaceItems={{ default: 'spaceItemsMd' }}>
          {vm && point && <Tray vm={vm} point={point} />}
          {vm && point && previewed && (
            <FlexItem>
              <Preview vm={vm} point={point} path={previewed} />
            </FlexItem>
          )}
        </Flex>
      </GridItem>
    </Grid>
  );
}
