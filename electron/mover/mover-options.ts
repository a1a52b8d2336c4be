// What a `lifeboat mover` process is told at start: the engine to reach, its state folder, what
// it can reach (transports, its view of each datastore) and how many tasks it runs at once.
import type { MessageOf } from '../movers/protocol.ts';

export type Transport = MessageOf<'hello'>['transports'][number];

export type MoverOptions = {
  engine: { host: string; port: number };
  /** The folder of key.pem, cert.pem and ca.pem (made 0700). */
  state: string;
  /** The one-time join token of `lifeboat movers add`, for the first run only. */
  token: string | null;
  /** Datastore name → the real path of this host's view of it (an existing folder). */
  datastores: Record<string, string>;
  transports: Transport[];
  slots: number;
};

/** Knobs read from the environment: timings the tests shorten and the benches' slow writer. */
export type MoverTuning = {
  /** Nothing heard from the engine for this long: the connection is lost. */
  silenceMs: number;
  /** How often a task syncs its file and sends a checkpoint. */
  checkpointMs: number;
  /** Writes are held to this many bytes per second (null: as fast as the disk takes them). */
  writeBytesPerSecond: number | null;
  backoffFirstMs: number;
  backoffMaxMs: number;
};
