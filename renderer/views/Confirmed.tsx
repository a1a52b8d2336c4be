// A button that asks before it does something that cannot be undone: the question names what
// happens, the safe answer has the focus.
import { useState } from 'react';

export function Confirmed({
  label,
  question,
  confirmLabel,
  onConfirm,
}: {
  label: string;
  question: string;
  confirmLabel: string;
  onConfirm(): void;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button className="cancel" onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  return (
    <span role="group" aria-label={question} className="confirm">
      <span>{question}</span>
      <button
        className="danger"
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {confirmLabel}
      </button>
      <button onClick={() => setAsking(false)} autoFocus>
        Keep it
      </button>
    </span>
  );
}
