// A button that asks before it does something that cannot be undone: the question names what
// happens, the safe answer has the focus, and keeping things as they are gives the focus back to
// the button (a keyboard user is not dropped at the top of the page).
import { useEffect, useRef, useState } from 'react';
import { Button, Flex } from '@patternfly/react-core';

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
      <Button ref={opener} className="cancel" variant="secondary" isDanger size="sm" onClick={() => setAsking(true)}>
        {label}
      </Button>
    );
  return (
    <Flex
      role="group"
      aria-label={question}
      spaceItems={{ default: 'spaceItemsSm' }}
      alignItems={{ default: 'alignItemsCenter' }}
      display={{ default: 'inlineFlex' }}
    >
      <span>{question}</span>
      <Button
        variant="danger"
        size="sm"
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {confirmLabel}
      </Button>
      <Button
        variant="secondary"
        size="sm"
        onClick={() => {
          kept.current = true;
          setAsking(false);
        }}
        autoFocus
      >
        Keep it
      </Button>
    </Flex>
  );
}
