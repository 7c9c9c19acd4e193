/**
 * Remembers the last `capacity` event ids so the same event from several relays (or a catch-up
 * replay) is sent once. Insertion-ordered Map as a bounded FIFO: O(1) per event.
 */
export class RecentIds {
  private readonly ids = new Map<string, true>();

  constructor(private readonly capacity: number) {}

  /** true if the id was new (and is now remembered) */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.set(id, true);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.keys().next().value!);
    return true;
  }
}
