// The index's answers to a search: each hit opens the folder that holds it, in its newest point.
import { Button, List, ListItem } from '@patternfly/react-core';
import type { IndexGaps, SearchHit } from '../../../shared/domain.ts';
import { describeIndexGaps } from '../../../shared/format.ts';

export function SearchHits({ hits, gaps, onOpen }: { hits: SearchHit[]; gaps: IndexGaps[]; onOpen(hit: SearchHit): void }) {
  return (
    <section aria-label="Search results">
      <List isPlain isBordered>
        {hits.length === 0 && <ListItem>Nothing of that name in the index.</ListItem>}
        {hits.map((hit) => (
          <ListItem key={`${hit.vmId}${hit.path}`}>
            <Button variant="link" isInline onClick={() => onOpen(hit)}>
              {hit.vmName} <code>{hit.path}</code>
            </Button>{' '}
            <span className="pf-v6-u-text-color-subtle pf-v6-u-font-size-sm">
              in point(s) {hit.versions.map((version) => `#${version.sequence}`).join(', ')}
            </span>
          </ListItem>
        ))}
        {gaps.flatMap(describeIndexGaps).map((line) => (
          <ListItem key={line} role="note">
            {line}
          </ListItem>
        ))}
      </List>
    </section>
  );
}
