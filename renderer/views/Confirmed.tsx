// A button that asks before it does something that cannot be undone: the question names what
// happens, the safe answer has the focus, and keeping things as they are gives the focus back to
// the button (a keyboard user is not dropped at the top of the page).
import { useEffect, useRef, useState } from 'react';

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
  const opener = useRef<HTMLButtonElement>(null);
  const kept = useRef(false);
  useEffect(() => {
    if (asking || !kept.current) return;
    kept.current = false;
    opener.current?.focus();
  }, [asking]);
  if (!asking)
    return (
      <button ref={opener} className="cancel" onClick={() => setAsking(true)}>
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
      <button
        onClick={() => {
          kept.current = true;
          setAsking(false);
        }}
        autoFocus
      >
        Keep it
      </button>
    </span>
  );
}
