// A small JSON Schema (draft-04) validator for the keywords the official nbformat schema uses, so
// an uploaded notebook is checked against the real schema without a validator dependency. It
// refuses to compile a schema that uses a keyword it does not implement, so the vendored schema
// can never be half-checked silently (tests/unit/ipynb.test.ts compiles it).

export type JsonSchema = { [keyword: string]: unknown };

export interface SchemaError {
  /** JSON pointer of the offending value, e.g. /cells/3/outputs/0 */
  path: string;
  message: string;
}

const IMPLEMENTED = new Set([
  'type', 'properties', 'required', 'additionalProperties', 'patternProperties', 'items', '$ref',
  'oneOf', 'enum', 'not', 'minimum', 'maximum', 'pattern', 'minLength', 'maxLength', 'uniqueItems',
]);
/** Annotations, and words that sit in the nbformat schema where keywords go but mean nothing to JSON Schema. */
const IGNORED = new Set(['$schema', 'description', 'definitions', 'item', 'source_hidden', 'outputs_hidden']);

const typeOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v;

const show = (v: unknown) => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

export class SchemaValidator {
  private regexCache = new Map<string, RegExp>();

  constructor(private root: JsonSchema) {
    this.check(root, '#');
  }

  /** Errors of `value` against the root schema, or against `#/definitions/...` when `ref` is given. */
  validate(value: unknown, ref = '#'): SchemaError[] {
    const errors: SchemaError[] = [];
    this.visit(this.resolve(ref), value, '', errors);
    return errors;
  }

  private check(schema: unknown, where: string): void {
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new Error(`schema at ${where} is not an object`);
    for (const [k, v] of Object.entries(schema)) {
      if (IGNORED.has(k)) {
        if (k === 'definitions') this.checkDefinitions(v, `${where}/definitions`);
        continue;
      }
      if (!IMPLEMENTED.has(k)) throw new Error(`schema keyword "${k}" at ${where} is not implemented`);
      if (k === 'pattern') this.regex(v as string);
      if (k === 'properties' || k === 'patternProperties') {
        for (const [p, s] of Object.entries(v as object)) {
          if (k === 'patternProperties') this.regex(p);
          this.check(s, `${where}/${k}/${p}`);
        }
      } else if (k === 'items' || k === 'not' || (k === 'additionalProperties' && typeof v === 'object')) {
        this.check(v, `${where}/${k}`);
      } else if (k === 'oneOf') {
        (v as unknown[]).forEach((s, i) => this.check(s, `${where}/oneOf/${i}`));
      } else if (k === '$ref') {
        this.resolve(v as string);
      }
    }
  }

  /** `definitions` may nest groups of schemas (nbformat's `misc`). */
  private checkDefinitions(defs: unknown, where: string) {
    for (const [name, s] of Object.entries(defs as object)) {
      const isGroup = Object.keys(s as object).every((k) => !IMPLEMENTED.has(k) && !IGNORED.has(k));
      if (isGroup) this.checkDefinitions(s, `${where}/${name}`);
      else this.check(s, `${where}/${name}`);
    }
  }

  private resolve(ref: string): JsonSchema {
    if (!ref.startsWith('#')) throw new Error(`only local $ref are supported, not ${ref}`);
    let node: unknown = this.root;
    for (const part of ref.slice(1).split('/').filter(Boolean)) {
      node = (node as Record<string, unknown> | undefined)?.[part];
    }
    if (typeof node !== 'object' || node === null) throw new Error(`unresolved $ref ${ref}`);
    return node as JsonSchema;
  }

  private regex(pattern: string): RegExp {
    let re = this.regexCache.get(pattern);
    if (!re) {
      re = new RegExp(pattern, 'u');
      this.regexCache.set(pattern, re);
    }
    return re;
  }

  private visit(schema: JsonSchema, value: unknown, path: string, errors: SchemaError[]): void {
    const fail = (message: string, at = path) => errors.push({ path: at, message });
    if (schema.$ref !== undefined) this.visit(this.resolve(schema.$ref as string), value, path, errors);

    if (schema.type !== undefined) {
      const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
      const t = typeOf(value);
      if (!types.some((x) => x === t || (x === 'number' && t === 'integer'))) {
        fail(`must be ${types.join(' or ')}, not ${t}`);
        return;
      }
    }
    if (schema.enum !== undefined && !(schema.enum as unknown[]).some((e) => deepEqual(e, value))) {
      fail(`must be one of ${(schema.enum as unknown[]).map(show).join(', ')}, not ${show(value)}`);
    }
    if (schema.not !== undefined) {
      const sub: SchemaError[] = [];
      this.visit(schema.not as JsonSchema, value, path, sub);
      if (!sub.length) fail(`must not match ${show(schema.not)}`);
    }
    if (typeof value === 'number') {
      if (typeof schema.minimum === 'number' && value < schema.minimum) fail(`must be >= ${schema.minimum}, not ${value}`);
      if (typeof schema.maximum === 'number' && value > schema.maximum) fail(`must be <= ${schema.maximum}, not ${value}`);
    }
    if (typeof value === 'string') {
      // code points, counted only where a length is asked: outputs hold strings of megabytes
      if (typeof schema.minLength === 'number' || typeof schema.maxLength === 'number') {
        const len = [...value].length;
        if (typeof schema.minLength === 'number' && len < schema.minLength) fail(`must have at least ${schema.minLength} characters`);
        if (typeof schema.maxLength === 'number' && len > schema.maxLength) fail(`must have at most ${schema.maxLength} characters`);
      }
      if (typeof schema.pattern === 'string' && !this.regex(schema.pattern).test(value)) fail(`must match ${schema.pattern}, not ${show(value)}`);
    }
    if (Array.isArray(value)) {
      if (schema.items !== undefined) value.forEach((v, i) => this.visit(schema.items as JsonSchema, v, `${path}/${i}`, errors));
      if (schema.uniqueItems === true) {
        for (let i = 0; i < value.length; i++) {
          if (value.slice(0, i).some((w) => deepEqual(w, value[i]))) {
            fail(`must have unique items; ${show(value[i])} repeats`);
            break;
          }
        }
      }
    }
    if (typeOf(value) === 'object') this.visitObject(schema, value as Record<string, unknown>, path, errors);
    if (schema.oneOf !== undefined) this.visitOneOf(schema.oneOf as JsonSchema[], value, path, errors);
  }

  private visitObject(schema: JsonSchema, obj: Record<string, unknown>, path: string, errors: SchemaError[]) {
    for (const key of (schema.required as string[] | undefined) ?? []) {
      if (!(key in obj)) errors.push({ path, message: `missing required property "${key}"` });
    }
    const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
    const patterns = Object.entries((schema.patternProperties ?? {}) as Record<string, JsonSchema>);
    for (const [key, v] of Object.entries(obj)) {
      const at = `${path}/${escapePointer(key)}`;
      let matched = false;
      if (Object.prototype.hasOwnProperty.call(props, key)) {
        matched = true;
        this.visit(props[key], v, at, errors);
      }
      for (const [pattern, s] of patterns) {
        if (this.regex(pattern).test(key)) {
          matched = true;
          this.visit(s, v, at, errors);
        }
      }
      if (matched) continue;
      const extra = schema.additionalProperties;
      if (extra === false) errors.push({ path, message: `unexpected property "${key}"` });
      else if (typeof extra === 'object' && extra !== null) this.visit(extra as JsonSchema, v, at, errors);
    }
  }

  /**
   * For nbformat's cells and outputs, the branches differ by a tag (`cell_type`, `output_type`):
   * when nothing matches, report the errors of the branches whose tag fits, not of all of them.
   */
  private visitOneOf(branches: JsonSchema[], value: unknown, path: string, errors: SchemaError[]) {
    const results = branches.map((b) => {
      const sub: SchemaError[] = [];
      this.visit(b, value, path, sub);
      return sub;
    });
    const passing = results.filter((r) => !r.length).length;
    if (passing === 1) return;
    if (passing > 1) {
      errors.push({ path, message: `matches more than one of the allowed forms` });
      return;
    }
    if (results.every((r) => r.length === 1 && r[0].path === path && /^must be [a-z ]+, not [a-z]+$/.test(r[0].message))) {
      const kinds = results.map((r) => /^must be (.*), not/.exec(r[0].message)![1]);
      errors.push({ path, message: `must be ${kinds.join(' or ')}, not ${typeOf(value)}` });
      return;
    }
    const isTagMismatch = (e: SchemaError) => e.message.startsWith('must be one of') && e.path.split('/').length === path.split('/').length + 1;
    const fitting = results.filter((r) => !r.some(isTagMismatch));
    if (fitting.length) {
      errors.push(...fitting.flat());
      return;
    }
    const tags = results.map((r) => r.find(isTagMismatch)!).filter(Boolean);
    const tagPath = tags[0]?.path ?? path;
    const allowed = tags.map((t) => /must be one of (.*), not/.exec(t.message)?.[1]).filter(Boolean);
    errors.push({ path: tagPath, message: `must be one of ${allowed.join(', ')}, not ${show(tagValue(value, tagPath))}` });
  }
}

function tagValue(value: unknown, pointer: string): unknown {
  const key = pointer.slice(pointer.lastIndexOf('/') + 1);
  return (value as Record<string, unknown> | null)?.[key];
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
