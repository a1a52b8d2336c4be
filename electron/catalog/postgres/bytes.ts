// Bytes cross between the engine's thread and the PostgreSQL worker as a Uint8Array (structured
// clone drops Buffer's prototype); pg sends only a Buffer as bytea, and SQLite gives a BLOB as one.

/** `value` as a Buffer when it is bytes (the same memory, not a copy); anything else as it is. */
export function asBuffer(value: unknown): unknown {
  return value instanceof Uint8Array && !Buffer.isBuffer(value) ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value;
}
