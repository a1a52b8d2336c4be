// Shared and exclusive turns on one file: reads and writes run side by side (they order
// themselves chunk by chunk), a resize, a removal or a close waits until none is in flight and
// holds off new ones. Turns are given in arrival order, so a waiting resize is not starved.
type Waiter = { exclusive: boolean; start: () => void };

export class RwGate {
  private shared = 0;
  private exclusive = false;
  private readonly waiting: Waiter[] = [];

  async withShared<T>(use: () => Promise<T>): Promise<T> {
    await this.enter(false);
    try {
      return await use();
    } finally {
      this.shared--;
      this.wake();
    }
  }

  async withExclusive<T>(use: () => Promise<T>): Promise<T> {
    await this.enter(true);
    try {
      return await use();
    } finally {
      this.exclusive = false;
      this.wake();
    }
  }

  private enter(exclusive: boolean): Promise<void> {
    if (this.waiting.length === 0 && this.admits(exclusive)) {
      this.take(exclusive);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push({ exclusive, start: resolve }));
  }

  private admits(exclusive: boolean): boolean {
    return !this.exclusive && (!exclusive || this.shared === 0);
  }

  private take(exclusive: boolean): void {
    if (exclusive) this.exclusive = true;
    else this.shared++;
  }

  private wake(): void {
    for (let next = this.waiting[0]; next && this.admits(next.exclusive); next = this.waiting[0]) {
      this.waiting.shift();
      this.take(next.exclusive);
      next.start();
    }
  }
}
