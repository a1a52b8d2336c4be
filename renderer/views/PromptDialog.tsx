// What the engine waits for an operator to do, shown over every view: which tape, where to put
// it, since when, for which jobs. The operator inserts it (for the virtual library: imports it
// through the mail slot) and answers; a wrong barcode is refused with the one needed.
import { useState, type FormEvent } from 'react';
import type { Prompt } from '../../shared/domain.ts';
import { useApi, useOpenPrompts } from '../api/queries.ts';
import { formatTime } from './time.ts';

function PromptCard({ prompt, position }: { prompt: Prompt; position: { index: number; of: number } }) {
  const api = useApi();
  const [barcode, setBarcode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = (work: Promise<unknown>): void => {
    setBusy(true);
    work
      .then(
        () => setError(null),
        (failure: Error) => setError(failure.message),
      )
      .finally(() => setBusy(false));
  };
  const answer = (event: FormEvent): void => {
    event.preventDefault();
    run(api.invoke('prompts.answer', { promptId: prompt.id, ...(barcode.trim() ? { barcode: barcode.trim() } : {}) }));
  };
  const headingId = `prompt-${prompt.id}`;
  return (
    <section role="alertdialog" aria-labelledby={headingId} className="prompt" data-prompt-id={prompt.id}>
      <h2 id={headingId}>
        Insert tape {prompt.barcode}
        {position.of > 1 && (
          <span className="muted">
            {' '}
            ({position.index + 1} of {position.of})
          </span>
        )}
      </h2>
      <p>{prompt.message}.</p>
      <dl className="review">
        <dt>Put it in</dt>
        <dd>{prompt.place}</dd>
        <dt>Waiting since</dt>
        <dd>{formatTime(prompt.createdAt)}</dd>
        <dt>Jobs</dt>
        <dd>{prompt.jobIds.map((id) => id.slice(0, 8)).join(', ')}</dd>
      </dl>
      <p className="muted">The jobs go on by themselves when the library sees the tape.</p>
      {prompt.barcode && (
        <button type="button" disabled={busy} onClick={() => run(api.invoke('tape.import', { barcode: prompt.barcode as string }))}>
          Import {prompt.barcode} through the mail slot
        </button>
      )}
      <form className="approval" onSubmit={answer}>
        <label htmlFor={`${headingId}-barcode`}>Barcode you inserted (optional)</label>
        <input id={`${headingId}-barcode`} value={barcode} onChange={(event) => setBarcode(event.target.value.toUpperCase())} />
        <button type="submit" disabled={busy}>
          I have inserted it
        </button>
      </form>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </section>
  );
}

export function PromptDialog() {
  const prompts = useOpenPrompts();
  if (!prompts.data || prompts.data.length === 0) return null;
  // The engine lists the newest first; a request asks for its tapes in pull-list order, shown so.
  const inOrder = [...prompts.data].reverse();
  return (
    <div className="prompts" aria-live="assertive">
      {inOrder.map((prompt, index) => (
        <PromptCard key={prompt.id} prompt={prompt} position={{ index, of: inOrder.length }} />
      ))}
    </div>
  );
}
