// "Add mover": a name, the vSphere host whose disks it carries and, when it runs in a VM, that
// proxy VM. The engine answers with a one-time join token and the command to run on the proxy
// host; both are shown here once (the engine keeps only the token's hash), then forgotten.
import { useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import {
  ActionGroup,
  Alert,
  Button,
  Card,
  CardBody,
  CardTitle,
  Content,
  Form,
  FormGroup,
  FormSelect,
  FormSelectOption,
  TextArea,
  TextInput,
  Title,
} from '@patternfly/react-core';
import { useApi, useHosts } from '../api/queries.ts';
import { InlineError } from './common/InlineError.tsx';
import { SectionCard } from './common/SectionCard.tsx';

type Joining = { name: string; token: string; command: string };

/** Copies to the clipboard when the browser allows it; otherwise the text stays selectable. */
function CopyButton({ text, what }: { text: string; what: string }) {
  const [outcome, setOutcome] = useState<string | null>(null);
  const copy = (): void => {
    // navigator.clipboard is missing outside a secure context (plain http from another machine).
    const clipboard = navigator.clipboard as Clipboard | undefined;
    if (!clipboard) return setOutcome('The browser allows no copying here: select the text and copy it.');
    clipboard.writeText(text).then(
      () => setOutcome(`Copied the ${what}.`),
      () => setOutcome('The browser refused to copy: select the text and copy it.'),
    );
  };
  return (
    <Content component="p">
      <Button variant="secondary" size="sm" type="button" onClick={copy}>
        Copy the {what}
      </Button>{' '}
      <span role="status">{outcome}</span>
    </Content>
  );
}

function JoinInstructions({ joining, onDone }: { joining: Joining; onDone(): void }) {
  return (
    <SectionCard id="join-once-heading" title={<>Join {joining.name} from its proxy host</>} level="h3">
      <Alert variant="warning" isInline title="Shown once: the token below is not shown again and works once.">
        Copy the command now; if it is lost, remove {joining.name} and add it again.
      </Alert>
      <Form onSubmit={(event) => event.preventDefault()}>
        <FormGroup label="Command to run on the proxy host" fieldId="join-command">
          <TextArea
            id="join-command"
            readOnlyVariant="default"
            rows={3}
            value={joining.command}
            onFocus={(event) => event.currentTarget.select()}
          />
        </FormGroup>
        <CopyButton text={joining.command} what="command" />
        <FormGroup label="Join token" fieldId="join-token">
          <TextInput id="join-token" readOnlyVariant="default" value={joining.token} onFocus={(event) => event.currentTarget.select()} />
        </FormGroup>
        <CopyButton text={joining.token} what="token" />
        <Content component="p">
          Add <code>--datastore NAME=PATH</code> for each datastore the proxy host sees. The mover shows as connected once it has joined.
        </Content>
        <ActionGroup>
          <Button type="button" variant="primary" onClick={onDone}>
            Done: I have copied it
          </Button>
        </ActionGroup>
      </Form>
    </SectionCard>
  );
}

export function MoverAddForm() {
  const api = useApi();
  const queries = useQueryClient();
  const hosts = useHosts();
  const [name, setName] = useState('');
  const [host, setHost] = useState('');
  const [proxyVm, setProxyVm] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [joining, setJoining] = useState<Joining | null>(null);
  if (joining) return <JoinInstructions joining={joining} onDone={() => setJoining(null)} />;
  const add = (event: FormEvent): void => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    api
      .invoke('movers.add', { name: name.trim(), host, proxyVm: proxyVm.trim() || null })
      .then(
        ({ mover, token, command }) => {
          setJoining({ name: mover.name, token, command });
          setName('');
          setProxyVm('');
          void queries.invalidateQueries({ queryKey: ['movers'] });
        },
        (failure: Error) => setError(failure.message),
      )
      .finally(() => setBusy(false));
  };
  const hostNames = (hosts.data ?? []).map((entry) => entry.name);
  return (
    <Card>
      <CardTitle>
        <Title headingLevel="h3" id="mover-add-heading">
          Add mover
        </Title>
      </CardTitle>
      <CardBody>
        <Form onSubmit={add} aria-labelledby="mover-add-heading" isHorizontal>
          <FormGroup label="Name" isRequired fieldId="mover-name">
            <TextInput
              id="mover-name"
              isRequired
              value={name}
              onChange={(_event, value) => setName(value)}
              maxLength={80}
              placeholder="proxy-a"
            />
          </FormGroup>
          <FormGroup label="vSphere host" isRequired fieldId="mover-host">
            <FormSelect id="mover-host" isRequired value={host} onChange={(_event, value) => setHost(value)}>
              <FormSelectOption value="" label="Choose…" />
              {hostNames.map((entry) => (
                <FormSelectOption key={entry} value={entry} label={entry} />
              ))}
            </FormSelect>
          </FormGroup>
          <FormGroup label="Proxy VM (optional)" fieldId="mover-proxy-vm">
            <TextInput id="mover-proxy-vm" value={proxyVm} onChange={(_event, value) => setProxyVm(value)} maxLength={200} />
          </FormGroup>
          {hosts.data && hostNames.length === 0 && (
            <Content component="p">
              No vSphere host yet: add one first with <code>lifeboat hosts add vsphere --url … --name …</code>.
            </Content>
          )}
          <ActionGroup>
            <Button type="submit" variant="primary" isDisabled={busy || !name.trim() || !host}>
              Add mover
            </Button>
          </ActionGroup>
          <InlineError error={error} />
        </Form>
      </CardBody>
    </Card>
  );
}
