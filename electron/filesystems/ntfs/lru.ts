// A small least-recently-used map: keeps the newest `limit` values (MFT blocks, folder listings)
// so repeated path lookups do not reread or reparse a folder, with memory bounded.
export class Lru<K, V> {
  private readonly limit: number;
  private readonly values = new Map<K, V>();

  constructor(limit: number) {
    this.limit = limit;
  }

  get(key: K): V | undefined {
    const value = this.values.get(key);
    if (value !== undefined) {
      this.values.delete(key);
      this.values.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.values.delete(key);
    this.values.set(key, value);
    if (this.values.size > this.limit) this.values.delete(this.values.keys().next().value as K);
  }
}
