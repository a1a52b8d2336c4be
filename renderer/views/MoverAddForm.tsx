// "Add mover": a name, the vSphere host whose disks it carries and, when it runs in a VM, that
// proxy VM. The engine answers with a one-time join token and the command to run on the proxy
// host; both are shown here once (the engine keeps only the token's hash), then forgotten.
import { useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { useApi, useHosts } from '../api/queries.ts';

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
    <>
      <button type="button" onClick={copy}>
        Copy the {what}
      </button>{' '}
      <span role="status" className="muted">
        {outcome}
      </span>
    </>
  );
}

function JoinInstructions({ joining, onDone }: { joining: Joining; onDone(): void }) {
  return (
    <section className="join-once" aria-labelledby="join-once-heading">
      <h3 id="join-once-heading">Join {joining.name} from its proxy host</h3>
      <p className="warning">
        <strong>Shown once:</strong> the token below is not shown again and works once. Copy the command now; if it is lost, remove{' '}
        {joining.name} and add it again.
      </p>
      <label htmlFor="join-command">Command to run on the proxy host</label>
      <textarea id="join-command" readOnly rows={3} value={joining.command} onFocus={(event) => event.currentTarget.select()} />
      <CopyButton text={joining.command} what="command" />
      <label htmlFor="join-token">Join token</label>
      <input id="join-token" readOnly value={joining.token} onFocus={(event) => event.currentTarget.select()} />
      <CopyButton text={joining.token} what="token" />
      <p className="muted">
        Add <code>--datastore NAME=PATH</code> for each datastore the proxy host sees. The mover shows as connected once it has joined.
      </p>
      <button type="button" onClick={onDone}>
        Done: I have copied it
      </button>
    </section>
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
    <form className="mover-form" onSubmit={add} aria-labelledby="mover-add-heading">
      <h3 id="mover-add-heading">Add mover</h3>
      <label>
        Name
        <input value={name} onChange={(event) => setName(event.target.value)} required maxLength={80} placeholder="proxy-a" />
      </label>
      <label>
        vSphere host
        <select value={host} onChange={(event) => setHost(event.target.value)} required>
          <option value="">Choose…</option>
          {hostNames.map((entry) => (
            <option key={entry} value={entry}>
              {entry}
            </option>
          ))}
        </select>
      </label>
      <label>
        Proxy VM (optional)
        <input value={proxyVm} onChange={(event) => setProxyVm(event.target.value)} maxLength={200} />
      </label>
      {hosts.data && hostNames.length === 0 && (
        <p className="muted">
          No vSphere host yet: add one first with <code>lifeboat hosts add vsphere --url … --name …</code>.
        </p>
      )}
      <button type="submit" disabled={busy || !name.trim() || !host}>
        Add mover
      </button>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  );
}
