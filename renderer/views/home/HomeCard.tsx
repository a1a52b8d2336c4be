// One card of Home: what it is about, what the operator should know, and a link to the view
// where it is acted on.
import { Button, Card, CardBody, CardFooter, CardTitle, Title } from '@patternfly/react-core';
import type { ReactNode } from 'react';
import { useConsole, type View } from '../../store.ts';

export function HomeCard({ title, view, goTo, children }: { title: string; view: View; goTo: string; children: ReactNode }) {
  const show = useConsole((state) => state.show);
  const id = `home-${view}-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <Card isFullHeight aria-labelledby={id} component="section">
      <CardTitle>
        <Title headingLevel="h3" size="lg" id={id}>
          {title}
        </Title>
      </CardTitle>
      <CardBody>{children}</CardBody>
      <CardFooter>
        <Button variant="link" isInline onClick={() => show(view)}>
          {goTo}
        </Button>
      </CardFooter>
    </Card>
  );
}

/** What a card says when there is nothing to show: plainly, in one line. */
export function Nothing({ children }: { children: ReactNode }) {
  return <p className="pf-v6-u-text-color-subtle">{children}</p>;
}
