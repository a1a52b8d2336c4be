// A least-recently-used cache bounded by a total weight (the entries of cached listings), or by a
// count when every value weighs 1 (MFT blocks, inodes): readers keep what they read last so
// repeated path lookups neither reread nor reparse it. Memory: the budget, plus the newest value.
export class LruCache<K, V> {
  private readonly capacity: number;
  private readonly items = new Map<K, { value: V; weight: number }>();
  private weight = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get(key: K): V | undefined {
    const item = this.items.get(key);
    if (!item) return undefined;
    this.items.delete(key);
    this.items.set(key, item);
    return item.value;
  }

  set(key: K, value: V, weight = 1): void {
    const old = this.items.get(key);
    if (old) {
      this.weight -= old.weight;
      this.items.delete(key);
    }
    this.items.set(key, { value, weight });
    this.weight += weight;
    // The newest stays whatever its weight (a folder larger than the budget is still looked up
    // in, file by file, while it is restored); older ones go until the rest fits.
    for (const [oldest, item] of this.items) {
      if (this.weight <= this.capacity || oldest === key) break;
      this.items.delete(oldest);
      this.weight -= item.weight;
    }
  }
}
