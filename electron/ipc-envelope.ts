// What crosses Electron IPC for a request: an envelope, so the console gets the engine's error
// code and sentence instead of Electron's "Error invoking remote method" wrapper.
export type IpcEnvelope = { ok: true; payload: unknown } | { ok: false; error: { code: string; message: string } };
