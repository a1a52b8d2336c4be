// A queued job's place in words: "3rd in queue · waiting for a worker".
import type { JobQueuePlace } from '../../../shared/domain.ts';

/** 1st, 2nd, 3rd, 4th … 11th, 12th, 13th … 21st. */
export function ordinal(position: number): string {
  const lastTwo = position % 100;
  const suffix = lastTwo >= 11 && lastTwo <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][position % 10] ?? 'th');
  return `${position}${suffix}`;
}

export function placeText(place: JobQueuePlace): string {
  return `${place.position === 1 ? 'next' : `${ordinal(place.position)} in queue`} · ${place.reason}`;
}
