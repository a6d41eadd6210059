/**
 * A small molecule codec (§6): combinators that describe a schema once and give
 * a typed encoder and a verifying decoder. Decoding follows the molecule
 * crate's `verify` rules byte for byte; in compatible mode (the default, as
 * tentacle's `from_compatible_slice`) a table may carry extra trailing fields,
 * which are ignored. Anything else malformed is a {@link MoleculeError}.
 *
 * Decoded byte values (`bytes`, `array`) are views into the input, not copies.
 */
import { MoleculeError } from '../errors.js'

/** Header unit: every molecule size, count, offset and union id is a u32le. */
const NUMBER_SIZE = 4

export interface DecodeOptions {
  /** Accept tables with extra trailing fields (default true, as tentacle reads peers' messages). */
  compatible?: boolean
}

/** A molecule type: encoder plus verifying decoder. */
export interface Codec<T> {
  /** Schema name, used in error paths. */
  readonly name: string
  /** Byte size of every value for fixed-size types (byte, array, struct); undefined otherwise. */
  readonly fixedSize: number | undefined
  /** Encodes `value`; throws MoleculeError CODEC_ERR_MOLECULE_ENCODE for a value that does not fit the schema. */
  encode(value: T): Uint8Array
  /** Verifies and decodes exactly `bytes`; throws MoleculeError for anything malformed. */
  decode(bytes: Uint8Array, opts?: DecodeOptions): T
  /** Decoder used by enclosing codecs (path for errors). */
  read(bytes: Uint8Array, compatible: boolean, path: string): T
}

/** The value type a codec encodes and decodes. */
export type CodecValue<C> = C extends Codec<infer T> ? T : never

abstract class BaseCodec<T> implements Codec<T> {
  abstract readonly name: string
  abstract readonly fixedSize: number | undefined
  abstract encode(value: T): Uint8Array
  abstract read(bytes: Uint8Array, compatible: boolean, path: string): T
  decode(bytes: Uint8Array, opts?: DecodeOptions): T {
    if (!(bytes instanceof Uint8Array))
      throw new MoleculeError('CODEC_ERR_MOLECULE_HEADER', this.name, 'input is not a Uint8Array')
    return this.read(bytes, opts?.compatible ?? true, this.name)
  }
}

// ---------------------------------------------------------------- helpers

/** Reads a u32le at `offset` (caller has checked bounds). */
export function readU32LE(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16)) + bytes[offset + 3]! * 0x1000000
}

/** Writes a u32le at `offset`. */
export function writeU32LE(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value & 0xff
  bytes[offset + 1] = (value >>> 8) & 0xff
  bytes[offset + 2] = (value >>> 16) & 0xff
  bytes[offset + 3] = (value >>> 24) & 0xff
}

function checkU32(value: number, path: string, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new MoleculeError('CODEC_ERR_MOLECULE_ENCODE', path, `${what} ${value} does not fit in u32`)
  }
}

/**
 * Builds a table or dynvec: `u32le total_size`, one `u32le offset` per item, then the items (§6).
 * An empty dynvec/table is just `04000000`.
 */
export function encodeOffsets(items: readonly Uint8Array[], path = 'dynvec'): Uint8Array {
  const headerSize = NUMBER_SIZE * (1 + items.length)
  let total = headerSize
  for (const it of items) total += it.length
  checkU32(total, path, 'total size')
  const out = new Uint8Array(total)
  writeU32LE(out, 0, total)
  let offset = headerSize
  for (let i = 0; i < items.length; i++) {
    writeU32LE(out, NUMBER_SIZE * (1 + i), offset)
    out.set(items[i]!, offset)
    offset += items[i]!.length
  }
  return out
}

/**
 * Verifies a table/dynvec header and returns the item slices (§6; molecule's
 * generated `verify`). `expected` = schema field count for tables (undefined for dynvecs).
 */
export function readOffsets(
  bytes: Uint8Array,
  path: string,
  expected: number | undefined,
  compatible: boolean,
): Uint8Array[] {
  const len = bytes.length
  if (len < NUMBER_SIZE)
    throw new MoleculeError('CODEC_ERR_MOLECULE_HEADER', path, `${len} bytes, header needs ${NUMBER_SIZE}`)
  const total = readU32LE(bytes, 0)
  if (total !== len)
    throw new MoleculeError('CODEC_ERR_MOLECULE_TOTAL_SIZE', path, `total size ${total} != slice length ${len}`)
  if (expected === 0 || (expected === undefined && len === NUMBER_SIZE)) {
    // A table without fields (or an empty dynvec) is only its total size; extra
    // fields are accepted in compatible mode without looking at them (molecule does the same).
    if (len === NUMBER_SIZE || (expected === 0 && compatible)) return []
    throw new MoleculeError('CODEC_ERR_MOLECULE_FIELD_COUNT', path, `expected 0 fields, got a ${len}-byte body`)
  }
  if (len < NUMBER_SIZE * 2)
    throw new MoleculeError('CODEC_ERR_MOLECULE_HEADER', path, `${len} bytes, header needs ${NUMBER_SIZE * 2}`)
  const first = readU32LE(bytes, NUMBER_SIZE)
  if (first % NUMBER_SIZE !== 0 || first < NUMBER_SIZE * 2) {
    throw new MoleculeError(
      'CODEC_ERR_MOLECULE_OFFSETS',
      path,
      `first offset ${first} is not a multiple of 4 that is >= 8`,
    )
  }
  if (len < first) throw new MoleculeError('CODEC_ERR_MOLECULE_HEADER', path, `${len} bytes, header needs ${first}`)
  const count = first / NUMBER_SIZE - 1
  if (expected !== undefined) {
    if (count < expected)
      throw new MoleculeError('CODEC_ERR_MOLECULE_FIELD_COUNT', path, `${count} fields, schema has ${expected}`)
    if (!compatible && count > expected) {
      throw new MoleculeError(
        'CODEC_ERR_MOLECULE_FIELD_COUNT',
        path,
        `${count} fields, schema has ${expected} (strict mode)`,
      )
    }
  }
  const n = expected ?? count
  const items = new Array<Uint8Array>(n)
  let start = first
  for (let i = 0; i < count; i++) {
    const end = i + 1 < count ? readU32LE(bytes, NUMBER_SIZE * (2 + i)) : total
    if (end < start || end > total)
      throw new MoleculeError('CODEC_ERR_MOLECULE_OFFSETS', path, `offset ${end} out of order or bounds`)
    if (i < n) items[i] = bytes.subarray(start, end)
    start = end
  }
  return items
}

// ---------------------------------------------------------------- primitive codecs

class ArrayCodec extends BaseCodec<Uint8Array> {
  constructor(
    readonly name: string,
    readonly fixedSize: number,
  ) {
    super()
  }
  encode(value: Uint8Array): Uint8Array {
    if (value.length !== this.fixedSize) {
      throw new MoleculeError(
        'CODEC_ERR_MOLECULE_ENCODE',
        this.name,
        `${value.length} bytes, array is ${this.fixedSize}`,
      )
    }
    return Uint8Array.from(value)
  }
  read(bytes: Uint8Array, _compatible: boolean, path: string): Uint8Array {
    if (bytes.length !== this.fixedSize) {
      throw new MoleculeError('CODEC_ERR_MOLECULE_SIZE', path, `${bytes.length} bytes, array is ${this.fixedSize}`)
    }
    return bytes
  }
}

class UintCodec extends BaseCodec<number> {
  constructor(
    readonly name: string,
    readonly fixedSize: 1 | 2 | 4,
  ) {
    super()
  }
  encode(value: number): Uint8Array {
    const max = 2 ** (8 * this.fixedSize) - 1
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new MoleculeError(
        'CODEC_ERR_MOLECULE_ENCODE',
        this.name,
        `${value} does not fit in ${this.fixedSize} bytes`,
      )
    }
    const out = new Uint8Array(this.fixedSize)
    for (let i = 0, v = value; i < this.fixedSize; i++, v = Math.floor(v / 256)) out[i] = v & 0xff
    return out
  }
  read(bytes: Uint8Array, _compatible: boolean, path: string): number {
    if (bytes.length !== this.fixedSize) {
      throw new MoleculeError('CODEC_ERR_MOLECULE_SIZE', path, `${bytes.length} bytes, expected ${this.fixedSize}`)
    }
    let v = 0
    for (let i = this.fixedSize - 1; i >= 0; i--) v = v * 256 + bytes[i]!
    return v
  }
}

class Uint64Codec extends BaseCodec<bigint> {
  readonly fixedSize = 8
  constructor(readonly name: string) {
    super()
  }
  encode(value: bigint): Uint8Array {
    if (typeof value !== 'bigint' || value < 0n || value > 0xffffffffffffffffn) {
      throw new MoleculeError('CODEC_ERR_MOLECULE_ENCODE', this.name, `${String(value)} does not fit in u64`)
    }
    const out = new Uint8Array(8)
    new DataView(out.buffer).setBigUint64(0, value, true)
    return out
  }
  read(bytes: Uint8Array, _compatible: boolean, path: string): bigint {
    if (bytes.length !== 8)
      throw new MoleculeError('CODEC_ERR_MOLECULE_SIZE', path, `${bytes.length} bytes, expected 8`)
    return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)
  }
}

// ---------------------------------------------------------------- vectors

class BytesCodec extends BaseCodec<Uint8Array> {
  readonly fixedSize = undefined
  constructor(readonly name: string) {
    super()
  }
  encode(value: Uint8Array): Uint8Array {
    checkU32(value.length, this.name, 'length')
    const out = new Uint8Array(NUMBER_SIZE + value.length)
    writeU32LE(out, 0, value.length)
    out.set(value, NUMBER_SIZE)
    return out
  }
  read(bytes: Uint8Array, _compatible: boolean, path: string): Uint8Array {
    if (bytes.length < NUMBER_SIZE)
      throw new MoleculeError('CODEC_ERR_MOLECULE_HEADER', path, `${bytes.length} bytes, header needs 4`)
    const count = readU32LE(bytes, 0)
    if (NUMBER_SIZE + count !== bytes.length) {
      throw new MoleculeError(
        'CODEC_ERR_MOLECULE_TOTAL_SIZE',
        path,
        `item count ${count} does not match ${bytes.length - NUMBER_SIZE} bytes`,
      )
    }
    return bytes.subarray(NUMBER_SIZE)
  }
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const utf8Encoder = new TextEncoder()

class StringCodec extends BaseCodec<string> {
  readonly fixedSize = undefined
  readonly #bytes: BytesCodec
  constructor(readonly name: string) {
    super()
    this.#bytes = new BytesCodec(name)
  }
  encode(value: string): Uint8Array {
    if (typeof value !== 'string') throw new MoleculeError('CODEC_ERR_MOLECULE_ENCODE', this.name, 'not a string')
    return this.#bytes.encode(utf8Encoder.encode(value))
  }
  read(bytes: Uint8Array, compatible: boolean, path: string): string {
    const raw = this.#bytes.read(bytes, compatible, path)
    try {
      return utf8Decoder.decode(raw)
    } catch {
      throw new MoleculeError('CODEC_ERR_MOLECULE_UTF8', path, 'invalid UTF-8')
    }
  }
}

class FixvecCodec<T> extends BaseCodec<T[]> {
  readonly fixedSize = undefined
  readonly #itemSize: number
  constructor(
    readonly name: string,
    readonly item: Codec<T>,
  ) {
    super()
    if (item.fixedSize === undefined)
      throw new TypeError(`fixvec ${name}: item ${item.name} has no fixed size (use dynvec)`)
    this.#itemSize = item.fixedSize
  }
  encode(value: readonly T[]): Uint8Array {
    checkU32(value.length, this.name, 'item count')
    const out = new Uint8Array(NUMBER_SIZE + value.length * this.#itemSize)
    writeU32LE(out, 0, value.length)
    for (let i = 0; i < value.length; i++) out.set(this.item.encode(value[i]!), NUMBER_SIZE + i * this.#itemSize)
    return out
  }
  read(bytes: Uint8Array, compatible: boolean, path: string): T[] {
    if (bytes.length < NUMBER_SIZE)
      throw new MoleculeError('CODEC_ERR_MOLECULE_HEADER', path, `${bytes.length} bytes, header needs 4`)
    const count = readU32LE(bytes, 0)
    if (NUMBER_SIZE + count * this.#itemSize !== bytes.length) {
      throw new MoleculeError(
        'CODEC_ERR_MOLECULE_TOTAL_SIZE',
        path,
        `item count ${count} does not match ${bytes.length} bytes`,
      )
    }
    const out = new Array<T>(count)
    for (let i = 0; i < count; i++) {
      const at = NUMBER_SIZE + i * this.#itemSize
      out[i] = this.item.read(bytes.subarray(at, at + this.#itemSize), compatible, `${path}[${i}]`)
    }
    return out
  }
}

class DynvecCodec<T> extends BaseCodec<T[]> {
  readonly fixedSize = undefined
  constructor(
    readonly name: string,
    readonly item: Codec<T>,
  ) {
    super()
  }
  encode(value: readonly T[]): Uint8Array {
    return encodeOffsets(
      value.map((v) => this.item.encode(v)),
      this.name,
    )
  }
  read(bytes: Uint8Array, compatible: boolean, path: string): T[] {
    const slices = readOffsets(bytes, path, undefined, compatible)
    return slices.map((s, i) => this.item.read(s, compatible, `${path}[${i}]`))
  }
}

// ---------------------------------------------------------------- composites

/** One named field of a table or struct. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any codec; its value type is inferred per field (Codec<unknown> would reject them: Codec is invariant)
export type Field = readonly [name: string, codec: Codec<any>]
/** The object a list of fields encodes. */
export type FieldsValue<F extends readonly Field[]> = { [E in F[number] as E[0]]: CodecValue<E[1]> }

class TableCodec<F extends readonly Field[]> extends BaseCodec<FieldsValue<F>> {
  readonly fixedSize = undefined
  constructor(
    readonly name: string,
    readonly fields: F,
  ) {
    super()
  }
  encode(value: FieldsValue<F>): Uint8Array {
    const v = value as Record<string, unknown>
    return encodeOffsets(
      this.fields.map(([k, c]) => {
        if (!(k in v)) throw new MoleculeError('CODEC_ERR_MOLECULE_ENCODE', `${this.name}.${k}`, 'missing field')
        return (c as Codec<unknown>).encode(v[k])
      }),
      this.name,
    )
  }
  read(bytes: Uint8Array, compatible: boolean, path: string): FieldsValue<F> {
    const slices = readOffsets(bytes, path, this.fields.length, compatible)
    const out: Record<string, unknown> = {}
    for (let i = 0; i < this.fields.length; i++) {
      const [k, c] = this.fields[i]!
      out[k] = c.read(slices[i]!, compatible, `${path}.${k}`)
    }
    return out as FieldsValue<F>
  }
}

class StructCodec<F extends readonly Field[]> extends BaseCodec<FieldsValue<F>> {
  readonly fixedSize: number
  constructor(
    readonly name: string,
    readonly fields: F,
  ) {
    super()
    let size = 0
    for (const [k, c] of fields) {
      if (c.fixedSize === undefined) throw new TypeError(`struct ${name}: field ${k} has no fixed size`)
      size += c.fixedSize
    }
    this.fixedSize = size
  }
  encode(value: FieldsValue<F>): Uint8Array {
    const v = value as Record<string, unknown>
    const out = new Uint8Array(this.fixedSize)
    let at = 0
    for (const [k, c] of this.fields) {
      out.set((c as Codec<unknown>).encode(v[k]), at)
      at += c.fixedSize!
    }
    return out
  }
  read(bytes: Uint8Array, compatible: boolean, path: string): FieldsValue<F> {
    if (bytes.length !== this.fixedSize) {
      throw new MoleculeError('CODEC_ERR_MOLECULE_SIZE', path, `${bytes.length} bytes, struct is ${this.fixedSize}`)
    }
    const out: Record<string, unknown> = {}
    let at = 0
    for (const [k, c] of this.fields) {
      out[k] = c.read(bytes.subarray(at, at + c.fixedSize!), compatible, `${path}.${k}`)
      at += c.fixedSize!
    }
    return out as FieldsValue<F>
  }
}

class OptionCodec<T> extends BaseCodec<T | undefined> {
  readonly fixedSize = undefined
  constructor(
    readonly name: string,
    readonly inner: Codec<T>,
  ) {
    super()
  }
  encode(value: T | undefined): Uint8Array {
    return value === undefined ? new Uint8Array(0) : this.inner.encode(value)
  }
  read(bytes: Uint8Array, compatible: boolean, path: string): T | undefined {
    return bytes.length === 0 ? undefined : this.inner.read(bytes, compatible, path)
  }
}

/** One variant of a union: key, codec, and optionally an explicit item id (default: its index). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as in Field
export type UnionItem = readonly [key: string, codec: Codec<any>, id?: number]
/** The tagged value a union encodes: `{ type: key, value }`. */
export type UnionValue<U extends readonly UnionItem[]> = {
  [I in keyof U]: U[I] extends readonly [infer K, infer C, ...unknown[]] ? { type: K; value: CodecValue<C> } : never
}[number]

class UnionCodec<U extends readonly UnionItem[]> extends BaseCodec<UnionValue<U>> {
  readonly fixedSize = undefined
  readonly #byKey = new Map<string, { id: number; codec: Codec<unknown> }>()
  readonly #byId = new Map<number, { key: string; codec: Codec<unknown> }>()
  constructor(
    readonly name: string,
    items: U,
  ) {
    super()
    items.forEach(([key, codec, id], index) => {
      const itemId = id ?? index
      this.#byKey.set(key, { id: itemId, codec })
      this.#byId.set(itemId, { key, codec })
    })
  }
  encode(value: UnionValue<U>): Uint8Array {
    const v = value as { type: string; value: unknown }
    const item = this.#byKey.get(v.type)
    if (item === undefined)
      throw new MoleculeError('CODEC_ERR_MOLECULE_ENCODE', this.name, `unknown union item ${String(v.type)}`)
    const body = item.codec.encode(v.value)
    const out = new Uint8Array(NUMBER_SIZE + body.length)
    writeU32LE(out, 0, item.id)
    out.set(body, NUMBER_SIZE)
    return out
  }
  read(bytes: Uint8Array, compatible: boolean, path: string): UnionValue<U> {
    if (bytes.length < NUMBER_SIZE)
      throw new MoleculeError('CODEC_ERR_MOLECULE_HEADER', path, `${bytes.length} bytes, header needs 4`)
    const id = readU32LE(bytes, 0)
    const item = this.#byId.get(id)
    if (item === undefined)
      throw new MoleculeError('CODEC_ERR_MOLECULE_UNKNOWN_ITEM', path, `unknown union item id ${id}`)
    const value = item.codec.read(bytes.subarray(NUMBER_SIZE), compatible, `${path}.${item.key}`)
    return { type: item.key, value } as UnionValue<U>
  }
}

// ---------------------------------------------------------------- public constructors

/** `byte` (§6): one byte, as a number (a 1-byte unsigned integer). */
export const byte: Codec<number> = new UintCodec('byte', 1)

/** `array Name [byte; size]` (§6), as a Uint8Array view. */
export function array(name: string, size: number): Codec<Uint8Array> {
  return new ArrayCodec(name, size)
}

/** `array Uint16/Uint32 [byte; n]` read as a little-endian unsigned integer. */
export function uintLE(name: string, size: 1 | 2 | 4): Codec<number> {
  return new UintCodec(name, size)
}

/** `array Uint32 [byte; 4]`, little-endian. */
export const uint32: Codec<number> = new UintCodec('Uint32', 4)

/** `array Uint64 [byte; 8]`, little-endian, as a bigint. */
export const uint64: Codec<bigint> = new Uint64Codec('Uint64')

/** `vector Name <byte>` (a fixvec of bytes), as a Uint8Array view. */
export function bytes(name = 'Bytes'): Codec<Uint8Array> {
  return new BytesCodec(name)
}

/** `vector String <byte>` decoded as strict UTF-8. */
export function string(name = 'String'): Codec<string> {
  return new StringCodec(name)
}

/** `vector Name <Item>` where Item has a fixed size (fixvec). */
export function fixvec<T>(name: string, item: Codec<T>): Codec<T[]> {
  return new FixvecCodec(name, item)
}

/** `vector Name <Item>` where Item has a variable size (dynvec). */
export function dynvec<T>(name: string, item: Codec<T>): Codec<T[]> {
  return new DynvecCodec(name, item)
}

/** `table Name { ... }`: fields in declaration order. */
export function table<const F extends readonly Field[]>(name: string, fields: F): Codec<FieldsValue<F>> {
  return new TableCodec(name, fields)
}

/** `struct Name { ... }`: fixed-size fields back to back. */
export function struct<const F extends readonly Field[]>(name: string, fields: F): Codec<FieldsValue<F>> {
  return new StructCodec(name, fields)
}

/** `option Name (Inner)`: undefined = zero bytes. */
export function option<T>(name: string, inner: Codec<T>): Codec<T | undefined> {
  return new OptionCodec(name, inner)
}

/** `union Name { A, B, ... }`: values are `{ type: 'A', value }`. */
export function union<const U extends readonly UnionItem[]>(name: string, items: U): Codec<UnionValue<U>> {
  return new UnionCodec(name, items)
}
