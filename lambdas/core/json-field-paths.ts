/** Field paths of a bin's JSON records, interned once per bin (the scanner's names, for the checks and reports). */

const ARRAY = '[]';
/** A parent with more distinct field names than this is a map (data as keys): its names are not tracked one by one. */
export const MAP_LIKE_FIELDS = 200;

/**
 * Field paths seen in a bin's records, interned: `m.x` is child `x` of `m`, array elements are the
 * child `[]` of their array. Ids are stable for the bin, so counts can be kept in arrays.
 */
export class FieldPaths {
  readonly parent: number[] = [-1];
  readonly name: string[] = [''];
  /** Id of the path with every name lower-cased: equal for paths Glue and Athena cannot tell apart. */
  readonly fold: number[] = [0];
  /** A map-like path: its children are all `*`. */
  readonly mapLike: boolean[] = [false];
  private readonly byName: Array<Map<string, number>> = [new Map<string, number>()];
  private readonly folds = new Map<string, number>([['', 0]]);
  /** Spellings seen (name bytes as written, escapes undecoded), by parent and hash: no string is made for a known name. */
  private readonly spellings = new Map<number, number>();
  private readonly spellingBytes: Buffer[] = [];
  private readonly spellingId: number[] = [];
  private readonly spellingNext: number[] = [];
  private readonly spellingsOf: number[] = [0];

  get size(): number {
    return this.parent.length;
  }

  /** The child of `parent` named by the JSON string body `buf[from, to)`. */
  child(parent: number, buf: Buffer, from: number, to: number, escaped: boolean): number {
    let h = 0x811c9dc5;
    for (let k = from; k < to; k++) h = Math.imul(h ^ buf[k], 16777619);
    const slot = parent * 0x100000000 + (h >>> 0);
    const len = to - from;
    for (let s = this.spellings.get(slot) ?? -1; s !== -1; s = this.spellingNext[s]) {
      const known = this.spellingBytes[s];
      if (known.length !== len) continue;
      let k = 0;
      while (k < len && known[k] === buf[from + k]) k++;
      if (k === len) return this.spellingId[s];
    }
    const name = decodeName(buf, from, to, escaped);
    let id = this.byName[parent].get(name);
    if (id === undefined) {
      if (!this.mapLike[parent] && this.byName[parent].size >= MAP_LIKE_FIELDS) this.mapLike[parent] = true;
      id = this.add(parent, this.mapLike[parent] ? '*' : name);
    }
    // Data keys under a map-like parent are not worth remembering one by one.
    if (!this.mapLike[parent] || this.spellingsOf[parent] < MAP_LIKE_FIELDS) this.spell(slot, parent, Buffer.from(buf.subarray(from, to)), id);
    return id;
  }

  private spell(slot: number, parent: number, bytes: Buffer, id: number): void {
    this.spellingBytes.push(bytes);
    this.spellingId.push(id);
    this.spellingNext.push(this.spellings.get(slot) ?? -1);
    this.spellings.set(slot, this.spellingBytes.length - 1);
    this.spellingsOf[parent]++;
  }

  /** The path of an array's elements (`[]` cannot be a field's spelling: a name's bytes never hold the brackets unquoted). */
  elements(parent: number): number {
    let id = this.elementsOf[parent];
    if (id === undefined || id < 0) id = this.elementsOf[parent] = this.add(parent, ARRAY);
    return id;
  }

  private readonly elementsOf: number[] = [-1];

  private add(parent: number, name: string): number {
    const existing = name === ARRAY ? undefined : this.byName[parent].get(name);
    if (existing !== undefined) return existing;
    const id = this.parent.length;
    this.parent.push(parent);
    this.name.push(name);
    this.mapLike.push(false);
    this.byName.push(new Map());
    this.spellingsOf.push(0);
    this.elementsOf.push(-1);
    if (name !== ARRAY) this.byName[parent].set(name, id);
    const foldKey = `${this.fold[parent]}\u0000${name.toLowerCase()}`;
    let f = this.folds.get(foldKey);
    if (f === undefined) this.folds.set(foldKey, (f = id));
    this.fold.push(f);
    return id;
  }

  /** `m.x`, `l[].a`: for reports. */
  text(id: number): string {
    const parts: string[] = [];
    for (let p = id; p > 0; p = this.parent[p]) parts.push(this.name[p]);
    let out = '';
    for (let i = parts.length - 1; i >= 0; i--) out += parts[i] === ARRAY || !out ? parts[i] : `.${parts[i]}`;
    return out;
  }

  /** Named children of a path (map-like `*` included, array elements not), as ids. */
  childrenOf(parent: number): number[] {
    return [...this.byName[parent].values()];
  }

  childNamed(parent: number, name: string): number | undefined {
    return this.byName[parent].get(name);
  }

  elementsIfAny(parent: number): number | undefined {
    const id = this.elementsOf[parent];
    return id === undefined || id < 0 ? undefined : id;
  }
}

/** A JSON string body as text (escapes decoded only where there are any). */
export const decodeName = (buf: Buffer, from: number, to: number, escaped: boolean): string =>
  escaped ? (JSON.parse(buf.toString('utf8', from - 1, to + 1)) as string) : buf.toString('utf8', from, to);
