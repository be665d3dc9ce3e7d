/**
 * A set of objects that each belong to at most one such set at a time, kept in an array:
 * every member remembers its position, so adding and removing are O(1) and touch no hash
 * table.
 *
 * Why not a Set: endpoints come and go once per connection, and a Set (or Map) with that much
 * churn rebuilds its hash table every few additions; in V8 each retired table keeps a
 * reference to its successor and to the members it held. A retired table that has reached the
 * old generation makes those references roots for every young-generation collection, which
 * then copies and promotes endpoints (with their streams and buffers) that are already gone.
 * An array's storage is replaced only when it grows, and no old store points to a new one.
 */

/** A member: its index in the list holding it, -1 while in none. */
export interface InSlotList {
  slotInList: number;
}

export class SlotList<T extends InSlotList> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  /** False if `item` is already in a list. */
  add(item: T): boolean {
    if (item.slotInList >= 0) return false;
    item.slotInList = this.items.length;
    this.items.push(item);
    return true;
  }

  /** False if `item` is not in this list. */
  delete(item: T): boolean {
    const i = item.slotInList;
    if (i < 0 || this.items[i] !== item) return false;
    const last = this.items.pop()!;
    if (last !== item) {
      this.items[i] = last;
      last.slotInList = i;
    }
    item.slotInList = -1;
    return true;
  }

  /** The members, as a new array (callers may remove members while walking it). */
  toArray(): T[] {
    return this.items.slice();
  }

  clear(): void {
    for (const item of this.items) item.slotInList = -1;
    this.items.length = 0;
  }
}
