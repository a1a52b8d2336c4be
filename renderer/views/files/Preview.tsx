// The first bytes of a picked file: text, an image, or a note that there is no preview.
import { Card, CardBody, CardTitle, Spinner } from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { formatBytes } from '../../../shared/format.ts';
import { useApi } from '../../api/queries.ts';
import { InlineError } from '../common/InlineError.tsx';

export function Preview({ vm, point, path }: { vm: string; point: string; path: string }) {
  const api = useApi();
  const preview = useQuery({ queryKey: ['preview', vm, point, path], queryFn: () => api.invoke('files.preview', { vm, point, path }) });
  return (
    <Card isCompact aria-label={`Preview of ${path}`} component="section">
      <CardTitle component="h3">
        {path.split('/').at(-1)}
        {preview.data && ` (${formatBytes(preview.data.size)}${preview.data.truncated ? ', first 256 KiB' : ''})`}
      </CardTitle>
      <CardBody>
        {preview.isPending && <Spinner size="md" aria-label={`Reading ${path}`} />}
        <InlineError error={preview.error?.message ?? null} />
        {preview.data?.kind === 'text' && (
          <pre
            className="pf-v6-u-font-family-monospace pf-v6-u-font-size-sm"
            style={{ maxHeight: 320, overflow: 'auto', whiteSpace: 'pre-wrap' }}
          >
            {new TextDecoder().decode(Uint8Array.from(atob(preview.data.base64), (char) => char.charCodeAt(0)))}
          </pre>
        )}
        {preview.data?.kind === 'image' && preview.data.base64 && (
          <img alt={path} src={`data:${preview.data.mime};base64,${preview.data.base64}`} style={{ maxWidth: '100%' }} />
        )}
        {(preview.data?.kind === 'binary' || (preview.data?.kind === 'image' && !preview.data.base64)) && <p>No preview for this file.</p>}
      </CardBody>
    </Card>
  );
}
