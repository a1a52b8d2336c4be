// A titled part of a view: a PatternFly card that is a region named by its heading.
import type { ReactNode } from 'react';
import { Card, CardBody, CardTitle, Title } from '@patternfly/react-core';

export function SectionCard({
  id,
  title,
  level = 'h2',
  isCompact = false,
  children,
}: {
  /** The heading's id (the region is labelled by it). */
  id: string;
  title: ReactNode;
  level?: 'h2' | 'h3';
  isCompact?: boolean;
  children: ReactNode;
}) {
  return (
    <Card component="section" aria-labelledby={id} isCompact={isCompact}>
      <CardTitle>
        <Title headingLevel={level} id={id}>
          {title}
        </Title>
      </CardTitle>
      <CardBody>{children}</CardBody>
    </Card>
  );
}
