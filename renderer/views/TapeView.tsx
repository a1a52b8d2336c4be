// Tape: the library (drives, mail slots, storage slots), its cartridges with eject and import,
// the backups held on tape, and a restore from tape that shows the pull list before it starts.
import { useState, type FormEvent } from 'react';
import type { PullListEntry, TapeInventory } from '../../shared/domain.ts';
import { formatBytes } from '../../shared/format.ts';
import { useApi, useOpenPrompts, useTapeCopies, useTapeInventory } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { formatTime } from './time.ts';
import { toggled } from './toggled.ts';
import { AlternateLocation } from './LocationNote.tsx';

type Cartridge = TapeInventory['cartridges'][number];

function where(cartridge: Cartridge): string {
  return cartridge.location.kind === 'offline' ? 'offline' : `${cartridge.location.kind} ${cartridge.location.index + 1}`;
}

/** What the library is: the virtual one, or a real one with its changer and drives as they answered INQUIRY. */
function Source({ source }: { source: TapeInventory['source'] }) {
  if (source.kind === 'virtual') return <p className="muted">Virtual library: cartridges are tape images in the home.</p>;
  const unit = (device: { vendor: string; product: string; revision: string; serial: string | null }): string =>
    `${device.vendor} ${device.product} ${device.revision}${device.serial ? ` · serial ${device.serial}` : ''}`;
  return (
    <dl className="library-source">
      <div>
        <dt>Library</dt>
        <dd>
          {source.configured} · {source.kind === 'iscsi' ? 'iSCSI' : 'SCSI generic'} · <code>{source.address}</code>
        </dd>
      </div>
      {source.changer && (
        <div>
          <dt>Changer</dt>
          <dd>
            {unit(source.changer)} <span className="muted">at {source.changer.address}</span>
          </dd>
        </div>
      )}
      {source.drives.map((drive, index) => (
        <div key={drive.address}>
          <dt>Drive {index + 1}</dt>
          <dd>
            {unit(drive)}{' '}
            <span className="muted">
              at {drive.address}, element {drive.element}
            </span>
          </dd>
        </div>
      ))}
    </dl>
  );
}

function Library({ inventory }: { inventory: TapeInventory }) {
  const api = useApi();
  const prompts = useOpenPrompts();
  const [error, setError] = useState<string | null>(null);
  const [ejecting, setEjecting] = useState<string | null>(null);
  /** Which jobs wait for each tape right now. */
  const wanted = new Map(
    (prompts.data ?? []).filter((prompt) => prompt.barcode).map((prompt) => [prompt.barcode as string, prompt.jobIds.length]),
  );
  // A real drive's rate is not known to Lifeboat: the modelled one only sizes the pull list's estimates.
  const speed = `${formatBytes(inventory.model.bytesPerSecond)}/s`;
  const rate = inventory.source.kind === 'virtual' ? `at ${speed}` : `(estimates assume ${speed})`;
  const act = (channel: 'tape.import' | 'tape.eject', barcode: string): void => {
    api.invoke(channel, { barcode }).then(
      () => setError(null),
      (failure: Error) => setError(failure.message),
    );
  };
  return (
    <section aria-labelledby="library-heading">
      <h2 id="library-heading">{inventory.name}</h2>
      <p className="muted">
        {inventory.drives.length} drive(s) {inventory.model.name} {rate} · {inventory.slots.length} slots · {inventory.mailslots.length}{' '}
        mail slot(s)
        {inventory.timeScale !== 1 && <> · mechanical time ×{inventory.timeScale}</>}
      </p>
      <Source source={inventory.source} />
      <div className="library">
        <div>
          <h3>Drives</h3>
          <ul className="bays">
            {inventory.drives.map((drive) => (
              <li key={drive.index} className={drive.barcode ? 'full' : ''}>
                Drive {drive.index + 1}: {drive.barcode ?? 'empty'}
                {drive.owner && <span className="muted"> · {drive.owner}</span>}
              </li>
            ))}
          </ul>
          <h3>Mail slots</h3>
          <ul className="bays">
            {inventory.mailslots.map((slot, index) => (
              <li key={index} className={slot ? 'full' : ''}>
                Mail slot {index + 1}: {slot ?? 'empty'}
              </li>
            ))}
          </ul>
        </div>
        <div>
          <h3>Slots</h3>
          <ol className="slots">
            {inventory.slots.map((slot, index) => (
              <li key={index} className={slot ? 'full' : ''} aria-label={`Slot ${index + 1}: ${slot ?? 'empty'}`}>
                {slot ?? '—'}
              </li>
            ))}
          </ol>
        </div>
      </div>
      <table className="grid">
        <caption>Cartridges</caption>
        <thead>
          <tr>
            <th>Barcode</th>
            <th>Where</th>
            <th>Pool</th>
            <th>Written</th>
            <th>Capacity</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {inventory.cartridges.map((cartridge) => (
            <tr key={cartridge.barcode} data-barcode={cartridge.barcode}>
              <td>
                {cartridge.barcode}
                {cartridge.writeProtected && <span className="muted"> (protected)</span>}
                {wanted.has(cartridge.barcode) && (
                  <strong className="wanted"> · wanted now by {wanted.get(cartridge.barcode)} job(s)</strong>
                )}
              </td>
              <td>{where(cartridge)}</td>
              <td>{cartridge.pool ?? 'free'}</td>
              <td>{cartridge.bytes === null ? '—' : formatBytes(cartridge.bytes)}</td>
              <td>{cartridge.capacityBytes === 0 ? 'unknown' : formatBytes(cartridge.capacityBytes)}</td>
              <td>
                {cartridge.location.kind === 'slot' && ejecting !== cartridge.barcode && (
                  <button onClick={() => (cartridge.pool ? setEjecting(cartridge.barcode) : act('tape.eject', cartridge.barcode))}>
                    Eject {cartridge.barcode}
                  </button>
                )}
                {ejecting === cartridge.barcode && (
                  <span role="group" aria-label={`Eject ${cartridge.barcode}?`} className="confirm">
                    <span>It holds backups of pool {cartridge.pool}; restores will ask for it back.</span>
                    <button
                      className="danger"
                      onClick={() => {
                        setEjecting(null);
                        act('tape.eject', cartridge.barcode);
                      }}
                    >
                      Yes, eject it
                    </button>
                    <button onClick={() => setEjecting(null)} autoFocus>
                      Keep it
                    </button>
                  </span>
                )}
                {cartridge.location.kind === 'offline' && (
                  <button onClick={() => act('tape.import', cartridge.barcode)}>Import {cartridge.barcode}</button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </section>
  );
}

function RestoreFromTape() {
  const api = useApi();
  const copies = useTapeCopies();
  const show = useConsole((state) => state.show);
  const openJob = useConsole((state) => state.openJob);
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [target, setTarget] = useState('');
  const [staging, setStaging] = useState('');
  const [pullList, setPullList] = useState<PullListEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (copies.isPending) return <p role="status">Loading backups on tape…</p>;
  if (copies.isError) return <p role="alert">{copies.error.message}</p>;
  if (copies.data.length === 0)
    return (
      <p className="empty">
        No backups on tape yet: <code>lifeboat tape backup &lt;vm&gt; --pool P</code> writes some.
      </p>
    );
  // One line per VM: the newest point on tape.
  const latest = [...new Map(copies.data.map((copy) => [copy.vmId, copy])).values()];
  const vms = latest.filter((copy) => picked.has(copy.vmId)).map((copy) => copy.vmId);
  const toggle = (vmId: string): void => {
    setPicked(toggled(picked, vmId));
    setPullList(null);
  };
  const review = (event: FormEvent): void => {
    event.preventDefault();
    api.invoke('tape.pullList', { vms, point: 'latest' }).then(
      (entries) => {
        setPullList(entries);
        setError(null);
      },
      (failure: Error) => setError(failure.message),
    );
  };
  const start = (): void => {
    api
      .invoke('restore.tape', {
        vms,
        point: 'latest',
        target: { kind: 'local', path: target },
        ...(staging.trim() ? { staging: staging.trim() } : {}),
      })
      .then(
        ({ jobs }) => (jobs[0] ? openJob(jobs[0].id) : show('jobs')),
        (failure: Error) => setError(failure.message),
      );
  };
  return (
    <section aria-labelledby="tape-restore-heading" className="wizard">
      <h2 id="tape-restore-heading">Restore from tape</h2>
      <AlternateLocation what="each VM is restored as a new copy in a folder" />
      <form onSubmit={review}>
        <fieldset>
          <legend>Backups on tape (newest point of each VM)</legend>
          {latest.map((copy) => (
            <div key={copy.vmId} className="field">
              <input type="checkbox" id={`tape-vm-${copy.vmId}`} checked={picked.has(copy.vmId)} onChange={() => toggle(copy.vmId)} />{' '}
              <label htmlFor={`tape-vm-${copy.vmId}`} style={{ display: 'inline' }}>
                {copy.vmName} · point {copy.pointSequence} of {formatTime(copy.pointCreatedAt)} · {formatBytes(copy.storedBytes)} on{' '}
                {copy.barcodes.join(', ') || 'uncatalogued tapes'}
              </label>
            </div>
          ))}
        </fieldset>
        <label>
          Target folder (one folder per VM when several)
          <input
            value={target}
            onChange={(event) => {
              setTarget(event.target.value);
              setPullList(null);
            }}
            required
            placeholder="/restores/from-tape"
          />
        </label>
        <label>
          Staging folder (optional: copy the backup from tape first, then restore from it)
          <input
            value={staging}
            onChange={(event) => setStaging(event.target.value)}
            placeholder="leave empty to restore straight from tape"
          />
        </label>
        <div className="actions">
          <button type="submit" disabled={vms.length === 0 || !target.trim()}>
            Show the pull list
          </button>
        </div>
      </form>
      {pullList && (
        <>
          <table className="grid">
            <caption>Pull list: tapes in the order they are read</caption>
            <thead>
              <tr>
                <th>Order</th>
                <th>Barcode</th>
                <th>Where</th>
                <th>Bytes</th>
                <th>Estimated</th>
                <th>For</th>
              </tr>
            </thead>
            <tbody>
              {pullList.map((entry) => (
                <tr key={entry.barcode}>
                  <td>{entry.order}</td>
                  <td>{entry.barcode}</td>
                  <td>{entry.online ? entry.location : `${entry.location}: you will be asked to insert it`}</td>
                  <td>{formatBytes(entry.bytes)}</td>
                  <td>{entry.estimatedSeconds} s</td>
                  <td>{entry.vms.join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="actions">
            <button className="primary" onClick={start}>
              Start restore of {vms.length} VM(s)
            </button>
          </div>
        </>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </section>
  );
}

export function TapeView() {
  const inventory = useTapeInventory();
  return (
    <div className="tape">
      {inventory.isPending ? (
        <p role="status">Loading the tape library…</p>
      ) : inventory.isError ? (
        <section className="empty">
          {/* A configured real library that does not answer is not "no library": the message names its address. */}
          <h2>
            {'code' in inventory.error && inventory.error.code !== 'not-found' ? 'The tape library is unavailable' : 'No tape library'}
          </h2>
          <p>{inventory.error.message}</p>
        </section>
      ) : (
        <Library inventory={inventory.data} />
      )}
      <RestoreFromTape />
    </div>
  );
}
