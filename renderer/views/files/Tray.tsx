// The tray of picked items: full paths and their total size, remove one or clear, folders kept or
// flattened, then downloaded as a zip or tar (browser console) or restored into a folder.
import {
  Button,
  Card,
  CardBody,
  CardTitle,
  DataList,
  DataListCell,
  DataListItem,
  DataListItemCells,
  DataListItemRow,
  Flex,
  Radio,
  Title,
} from '@patternfly/react-core';
import { DownloadIcon, TimesIcon } from '@patternfly/react-icons';
import { useState } from 'react';
import { formatBytes, printableName } from '../../../shared/format.ts';
import { useApi } from '../../api/queries.ts';
import { useConsole } from '../../store.ts';
import { InlineError } from '../common/InlineError.tsx';
import { downloadItems, downloadsWork } from './download.ts';
import { RestoreToFolder } from './RestoreToFolder.tsx';

export function Tray({ vm, point }: { vm: string; point: string }) {
  const api = useApi();
  const { picked, layout } = useConsole((state) => state.files);
  const setFiles = useConsole((state) => state.setFiles);
  const [error, setError] = useState<string | null>(null);
  const [started, setStarted] = useState<string | null>(null);
  const folders = picked.filter((item) => item.type === 'dir').length;
  const bytes = picked.reduce((sum, item) => sum + item.size, 0);
  const paths = picked.map((item) => item.path);
  const download = async (format: 'zip' | 'tar'): Promise<void> => {
    setError(null);
    try {
      setStarted(await downloadItems(api, { vm, point, paths, format, layout }));
    } catch (failure) {
      setError((failure as Error).message);
    }
  };
  return (
    <Card isCompact component="section" aria-labelledby="tray-title">
      <CardTitle>
        <Title headingLevel="h3" id="tray-title">
          Picked items
        </Title>
      </CardTitle>
      <CardBody>
        {picked.length === 0 ? (
          <p>Tick files and folders in the tree to pick them.</p>
        ) : (
          <>
            <p role="status">
              {picked.length} item(s), {formatBytes(bytes)}
              {folders > 0 && ` in files, plus what ${folders} folder(s) hold`}
            </p>
            <DataList aria-label="Picked items" isCompact>
              {picked.map((item) => (
                <DataListItem key={item.path}>
                  <DataListItemRow>
                    <DataListItemCells
                      dataListCells={[
                        <DataListCell key="path" wrapModifier="breakWord">
                          <code>{printableName(item.path)}</code>
                        </DataListCell>,
                        <DataListCell key="size" isFilled={false}>
                          {item.type === 'dir' ? 'folder' : formatBytes(item.size)}
                        </DataListCell>,
                        <DataListCell key="remove" isFilled={false}>
                          <Button
                            variant="plain"
                            size="sm"
                            aria-label={`Remove ${item.path}`}
                            icon={<TimesIcon />}
                            onClick={() => setFiles({ picked: picked.filter((other) => other.path !== item.path) })}
                          />
                        </DataListCell>,
                      ]}
                    />
                  </DataListItemRow>
                </DataListItem>
              ))}
            </DataList>
            <Flex className="pf-v6-u-my-sm" role="radiogroup" aria-label="Layout in the archive">
              <Radio
                id="layout-keep"
                name="layout"
                label="Keep folder structure"
                isChecked={layout === 'keep'}
                onChange={() => setFiles({ layout: 'keep' })}
              />
              <Radio
                id="layout-flatten"
                name="layout"
                label="Flatten"
                description='Every file at the top; a second file of one name becomes "name (2)".'
                isChecked={layout === 'flatten'}
                onChange={() => setFiles({ layout: 'flatten' })}
              />
            </Flex>
            <Flex>
              {downloadsWork() && (
                <>
                  <Button icon={<DownloadIcon />} onClick={() => void download('zip')}>
                    Download as zip
                  </Button>
                  <Button variant="secondary" icon={<DownloadIcon />} onClick={() => void download('tar')}>
                    Download as tar
                  </Button>
                </>
              )}
              <Button variant="link" onClick={() => setFiles({ picked: [] })}>
                Clear
              </Button>
            </Flex>
            {started && <p role="status">Your browser is saving {started}.</p>}
            <InlineError error={error} />
            <Title headingLevel="h4" className="pf-v6-u-mt-md">
              Restore {picked.length} picked item(s) to a folder
            </Title>
            <RestoreToFolder vm={vm} point={point} paths={paths} />
          </>
        )}
      </CardBody>
    </Card>
  );
}
