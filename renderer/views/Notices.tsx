// What happened that the operator should know without looking: a job that needs them, a job
// that ended. Each notice can be dismissed and goes by itself after a while; the same news can
// also come as a desktop notification when the operator allows them.
import { useEffect, useState } from 'react';
import { useConsole, type Notice } from '../store.ts';

const NOTICE_MS = 12_000;
/** Shown at once, newest last; they sit above the view, so a few lines at most. */
const SHOWN = 3;

function NoticeItem({ notice }: { notice: Notice }) {
  const dismiss = useConsole((state) => state.dismiss);
  const show = useConsole((state) => state.show);
  const selectJob = useConsole((state) => state.selectJob);
  useEffect(() => {
    const timer = setTimeout(() => dismiss(notice.id), NOTICE_MS);
    return () => clearTimeout(timer);
  }, [notice.id, dismiss]);
  return (
    <li className={`notice notice-${notice.tone}`}>
      <span>{notice.text}</span>
      {notice.jobId && (
        <button
          className="link"
          onClick={() => {
            show('jobs');
            selectJob(notice.jobId);
            dismiss(notice.id);
          }}
        >
          Show
        </button>
      )}
      <button className="link" aria-label="Dismiss" onClick={() => dismiss(notice.id)}>
        ×
      </button>
    </li>
  );
}

export function Notices() {
  const notices = useConsole((state) => state.notices);
  const [permission, setPermission] = useState(typeof Notification === 'undefined' ? 'denied' : Notification.permission);
  return (
    <div className="notices">
      {permission === 'default' && (
        <button className="link" onClick={() => void Notification.requestPermission().then(setPermission)}>
          Enable desktop notifications
        </button>
      )}
      <ul aria-live="polite" aria-label="Notices">
        {notices.slice(-SHOWN).map((notice) => (
          <NoticeItem key={notice.id} notice={notice} />
        ))}
      </ul>
    </div>
  );
}
