// What happened that the operator should know without looking: a job that needs them, a job
// that ended. Each notice can be dismissed and goes by itself after a while (not while the pointer
// rests on it, nor while a button is held); the same news can also come as a desktop notification
// when the operator allows them.
// Inline above the view rather than as toasts: a toast would cover the controls under it.
import { useEffect, useState } from 'react';
import { Alert, AlertActionCloseButton, AlertActionLink, AlertGroup, Button, type AlertProps } from '@patternfly/react-core';
import { useConsole, type Notice } from '../store.ts';
import { afterPress } from '../after-press.ts';

const NOTICE_MS = 12_000;
/** Shown at once, newest last; they sit above the view, so a few lines at most. */
const SHOWN = 3;

const variants: Record<Notice['tone'], AlertProps['variant']> = { info: 'info', attention: 'warning', bad: 'danger' };

function NoticeAlert({ notice }: { notice: Notice }) {
  const dismiss = useConsole((state) => state.dismiss);
  const show = useConsole((state) => state.show);
  const selectJob = useConsole((state) => state.selectJob);
  // Its own clock rather than the Alert's, which hides itself when it runs out: a notice stays while
  // the pointer rests on it or the focus is in it, and never leaves while a button is held (the
  // view under the pointer would move up mid-click).
  const [pointerOn, setPointerOn] = useState(false);
  const [focusIn, setFocusIn] = useState(false);
  const resting = pointerOn || focusIn;
  useEffect(() => {
    if (resting) return;
    const timer = setTimeout(() => afterPress(() => dismiss(notice.id)), NOTICE_MS);
    return () => clearTimeout(timer);
  }, [resting, dismiss, notice.id]);
  return (
    <Alert
      variant={variants[notice.tone]}
      isInline
      component="p"
      title={notice.text}
      onMouseEnter={() => setPointerOn(true)}
      onMouseLeave={() => setPointerOn(false)}
      onFocus={() => setFocusIn(true)}
      onBlur={(event) => setFocusIn(event.currentTarget.contains(event.relatedTarget))}
      actionClose={<AlertActionCloseButton aria-label="Dismiss" onClose={() => dismiss(notice.id)} />}
      actionLinks={
        notice.jobId && (
          <AlertActionLink
            onClick={() => {
              show('jobs');
              selectJob(notice.jobId);
              dismiss(notice.id);
            }}
          >
            Show
          </AlertActionLink>
        )
      }
    />
  );
}

export function Notices() {
  const notices = useConsole((state) => state.notices);
  const [permission, setPermission] = useState(typeof Notification === 'undefined' ? 'denied' : Notification.permission);
  return (
    <div>
      {permission === 'default' && (
        <Button variant="link" isInline onClick={() => void Notification.requestPermission().then(setPermission)}>
          Enable desktop notifications
        </Button>
      )}
      <AlertGroup isLiveRegion aria-label="Notices">
        {notices.slice(-SHOWN).map((notice) => (
          <NoticeAlert key={notice.id} notice={notice} />
        ))}
      </AlertGroup>
    </div>
  );
}
