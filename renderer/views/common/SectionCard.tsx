// A part of a view as a PatternFly card: a region named by its h2, so headings stay in order and
// assistive technology can jump between the parts.
import type { ReactNode } from 'react';
import { Card, CardBody, CardTitle, Title } from '@patternfly/react-core';

export function SectionCard({ headingId, title, children }: { headingId: string; title: string; children: ReactNode }) {
  return (
    <Card component="section" aria-labelledby={headingId}>
      <CardTitle>
        <Title headingLevel="h2" id={headingId}>
          {title}
        </Title>
      </CardTitle>
      <CardBody>{children}</CardBody>
    </Card>
  );
}
