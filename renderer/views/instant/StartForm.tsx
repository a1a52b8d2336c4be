// Start Instant Recovery: the VM and its point (a storage snapshot holding it comes first), the
// vSphere host and ESXi host, the name it runs as, and where the NFS datastore is served from.
import { useState, type FormEvent } from 'react';
import { ActionGroup, Alert, Button, Content, Form, FormGroup, FormSelect, FormSelectOption, TextInput } from '@patternfly/react-core';
import { useApi, useHostInventory, useHosts, usePoints, useStorageSnapshots, useVms } from '../../api/queries.ts';
import { InlineError } from '../common/InlineError.tsx';
import { AlternateLocation } from '../LocationNote.tsx';
import { SectionCard } from '../common/SectionCard.tsx';

const DEFAULT_LISTEN = '127.0.0.1:2049';

/** Field labels carry no required mark: the operator (and the e2e) find them by their exact names. */
export function StartForm() {
  const api = useApi();
  const vms = useVms();
  const hosts = useHosts();
  const [vm, setVm] = useState('');
  const [point, setPoint] = useState('latest');
  const [host, setHost] = useState('');
  const [hostSystem, setHostSystem] = useState('');
  const [name, setName] = useState('');
  const [listen, setListen] = useState(DEFAULT_LISTEN);
  const [redirectTo, setRedirectTo] = useState('');
  const [password, setPassword] = useState('');
  const [started, setStarted] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const points = usePoints(vm || null);
  const snapshots = useStorageSnapshots();
  // Storage snapshots holding the VM come first: the VM then runs from a clone on the array.
  const snapshotTier = (snapshots.data ?? []).filter((snapshot) =>
    snapshot.vms.some((found) => found.name.toLowerCase() === vm.toLowerCase()),
  );
  const fromSnapshot = snapshotTier.some((snapshot) => snapshot.id === point) ? point : null;
  const inventory = useHostInventory(host || null);
  const chosen = point === 'latest' ? points.data?.[0] : points.data?.find((entry) => String(entry.sequence) === point);
  const encrypted = !fromSnapshot && Boolean(chosen?.keyId);
  const start = (event: FormEvent): void => {
    event.preventDefault();
    setStarted(null);
    setError(null);
    const request = fromSnapshot
      ? { vm, host, fromSnapshot, ...(hostSystem ? { hostSystem } : {}), ...(name.trim() ? { name: name.trim() } : {}) }
      : {
          vm,
          point,
          host,
          listen: listen.trim(),
          ...(hostSystem ? { hostSystem } : {}),
          ...(name.trim() ? { name: name.trim() } : {}),
          ...(redirectTo.trim() ? { redirectTo: redirectTo.trim() } : {}),
          ...(password ? { password } : {}),
        };
    api.invoke('instant.start', request).then(
      ({ session }) => setStarted(`Starting ${session.name} on ${host}: its session is below.`),
      (failure: Error) => setError(failure.message),
    );
  };
  return (
    <SectionCard id="instant-heading" title="Instant Recovery">
      <Content component="p">
        Runs a VM straight from its backup: the restore point is served over NFS as a datastore on the host, the VM is registered and
        powered on, and its writes go to a cache. Nothing is restored first.
      </Content>
      <AlternateLocation what="the VM runs as a new registration from the backup's datastore (quick migration later moves it to production)" />
      <Form onSubmit={start} isHorizontal>
        <FormGroup label="VM" fieldId="instant-vm">
          <FormSelect
            id="instant-vm"
            isRequired
            value={vm}
            onChange={(_event, value) => {
              setVm(value);
              setPoint('latest');
            }}
          >
            <FormSelectOption value="" label="Choose…" />
            {(vms.data ?? []).map((entry) => (
              <FormSelectOption key={entry.id} value={entry.name} label={entry.name} />
            ))}
          </FormSelect>
        </FormGroup>
        <FormGroup label="Restore point" fieldId="instant-point">
          <FormSelect id="instant-point" value={point} onChange={(_event, value) => setPoint(value)}>
            {snapshotTier.map((snapshot) => (
              <FormSelectOption
                key={snapshot.id}
                value={snapshot.id}
                label={`Storage snapshot ${snapshot.id} (${snapshot.array}) · ${snapshot.createdAt}`}
              />
            ))}
            <FormSelectOption value="latest" label="Latest backup" />
            {(points.data ?? []).map((entry) => (
              <FormSelectOption key={entry.id} value={String(entry.sequence)} label={`Backup #${entry.sequence} · ${entry.createdAt}`} />
            ))}
          </FormSelect>
        </FormGroup>
        <FormGroup label="vSphere host" fieldId="instant-host">
          <FormSelect id="instant-host" isRequired value={host} onChange={(_event, value) => setHost(value)}>
            <FormSelectOption value="" label="Choose…" />
            {(hosts.data ?? []).map((entry) => (
              <FormSelectOption key={entry.id} value={entry.name} label={entry.name} />
            ))}
          </FormSelect>
        </FormGroup>
        <FormGroup label="ESXi host to run on" fieldId="instant-esxi">
          <FormSelect id="instant-esxi" value={hostSystem} onChange={(_event, value) => setHostSystem(value)}>
            <FormSelectOption value="" label="The first connected one" />
            {(inventory.data?.hostSystems ?? [])
              .filter((system) => system.connected)
              .map((system) => (
                <FormSelectOption key={system.name} value={system.name} label={system.name} />
              ))}
          </FormSelect>
        </FormGroup>
        <FormGroup label="Run it as (name on the host)" fieldId="instant-name">
          <TextInput id="instant-name" value={name} onChange={(_event, value) => setName(value)} placeholder="the backed-up VM's name" />
        </FormGroup>
        {fromSnapshot ? (
          <Content component="p">The array exports a clone of the snapshot to the host; the VM runs and writes there.</Content>
        ) : (
          <>
            <FormGroup label="NFS server listens on (an address the host can reach)" isRequired fieldId="instant-listen">
              <TextInput id="instant-listen" isRequired value={listen} onChange={(_event, value) => setListen(value)} />
            </FormGroup>
            {encrypted && (
              <FormGroup
                label="Encryption password (the point is encrypted; not needed when its key is remembered)"
                fieldId="instant-password"
              >
                <TextInput
                  id="instant-password"
                  type="password"
                  autoComplete="off"
                  value={password}
                  onChange={(_event, value) => setPassword(value)}
                />
              </FormGroup>
            )}
            <FormGroup label="Redirect the VM's writes to a production folder" fieldId="instant-redirect">
              <TextInput
                id="instant-redirect"
                value={redirectTo}
                onChange={(_event, value) => setRedirectTo(value)}
                placeholder="leave empty for the session's cache"
              />
            </FormGroup>
          </>
        )}
        <ActionGroup>
          <Button type="submit" variant="primary" isDisabled={!vm || !host || (!fromSnapshot && !listen.trim())}>
            Start Instant Recovery
          </Button>
        </ActionGroup>
      </Form>
      {started && <Alert variant="info" isInline isPlain title={started} role="status" />}
      <InlineError error={error} />
    </SectionCard>
  );
}
