// The real QEMU guest for Instant Recovery tests; it lives in scripts/peers/ so the bench may use it too.
export * from '../../scripts/peers/qemu-guest.ts';
