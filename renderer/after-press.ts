// Something that would move the view (a notice coming or going) waits while a pointer button is held:
// a click whose press and release land on different controls because the view moved between them
// is lost, or worse, lands on the control that slid under the pointer.

let held = false;
let waiting: Array<() => void> = [];

function release(): void {
  held = false;
  const due = waiting;
  waiting = [];
  // After the click that this release ends has been dispatched.
  setTimeout(() => due.forEach((act) => act()), 0);
}

if (typeof document !== 'undefined') {
  document.addEventListener('pointerdown', () => (held = true), true);
  document.addEventListener('pointerup', release, true);
  document.addEventListener('pointercancel', release, true);
  // A release outside the window may never reach the page: leaving the window ends the press too.
  window.addEventListener('blur', release);
}

/** Runs `act` now, or once the pointer button held now is released. */
export function afterPress(act: () => void): void {
  if (held) waiting.push(act);
  else act();
}
