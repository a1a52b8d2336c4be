// Keep-alive for an idle connection: after `every` ms without a word from the target, a NOP-Out
// ping; if nothing at all is heard for as long again, the connection is declared dead.
export class KeepAlive {
  readonly #every: number;
  readonly #ping: () => number;
  readonly #dead: (silentMs: number) => void;
  #timer: NodeJS.Timeout | null = null;
  #lastHeard = Date.now();
  #pingItt: number | null = null;

  constructor(every: number, ping: () => number, dead: (silentMs: number) => void) {
    this.#every = every;
    this.#ping = ping;
    this.#dead = dead;
  }

  start(): void {
    this.stop();
    this.#lastHeard = Date.now();
    this.#timer = setInterval(() => this.#tick(), Math.max(100, this.#every / 2));
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#pingItt = null;
  }

  heard(): void {
    this.#lastHeard = Date.now();
  }

  /** Whether this NOP-In answers our ping. */
  answers(itt: number): boolean {
    if (itt !== this.#pingItt) return false;
    this.#pingItt = null;
    return true;
  }

  #tick(): void {
    const quiet = Date.now() - this.#lastHeard;
    if (this.#pingItt !== null) {
      if (quiet >= 2 * this.#every) this.#dead(quiet);
      return;
    }
    if (quiet >= this.#every) this.#pingItt = this.#ping();
  }
}
