import { createRequire } from 'node:module';
import { join } from 'node:path';

const ts = createRequire(import.meta.url)('typescript') as typeof import('typescript');

/** The package's entry points: specifier → declaration file under dist/ (as package.json maps them). */
export const ENTRIES = {
  ipstamp: 'shared/index.d.ts',
  'ipstamp/client': 'client/index.d.ts',
  'ipstamp/client/node': 'client/index.node.d.ts',
  'ipstamp/server': 'server/index.d.ts',
  'ipstamp/fastify': 'server/fastify/index.d.ts',
  'ipstamp/node': 'server/node/index.d.ts',
  'ipstamp/hono': 'server/hono/index.d.ts',
  'ipstamp/hono/web': 'server/hono/web.d.ts',
  'ipstamp/web': 'server/web/index.d.ts',
  'ipstamp/redis': 'server/redis.d.ts',
  'ipstamp/telemetry': 'server/telemetry/index.d.ts',

  'ipstamp/cloudflare': 'server/cloudflare/index.d.ts',
  'ipstamp/attack': 'server/attack/index.d.ts',
} as const;
export type Entry = keyof typeof ENTRIES;

export interface EntrySurface {
  /** Names that exist at run time (functions, classes, constants). */
  values: string[];
  /** Names that are types only. */
  types: string[];
}

/** A named type of this package that a user meets but cannot import, and how they meet it. */
export interface UnexportedType {
  name: string;
  /** Declaring file, relative to dist/. */
  file: string;
  /** `entry: Export → member → … → Type`. */
  path: string;
}

type Ts = typeof ts;
type Symbol_ = import('typescript').Symbol;
type Type_ = import('typescript').Type;
type Checker = import('typescript').TypeChecker;

/**
 * Reads the built declarations the way a user's compiler does. `surface` lists each entry's
 * names; `unexportedTypes` walks every exported name's type — parameters, results, members,
 * type arguments, union members, recursively — and reports each named type declared in this
 * package that no entry exports.
 */
export function readPublicSurface(distDir: string): {
  surface: Record<Entry, EntrySurface>;
  unexportedTypes: UnexportedType[];
} {
  const files = Object.fromEntries(Object.entries(ENTRIES).map(([entry, file]) => [entry, join(distDir, file)])) as Record<Entry, string>;
  const program = ts.createProgram(Object.values(files), {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const resolveAlias = (symbol: Symbol_): Symbol_ => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol);
  // `export type { SomeClass }` exports no value, though its target is one.
  const typeOnlyAlias = (symbol: Symbol_): boolean => {
    for (let alias: Symbol_ | undefined = symbol; alias !== undefined && alias.flags & ts.SymbolFlags.Alias; alias = checker.getImmediateAliasedSymbol(alias)) {
      if (alias.declarations?.some((d) => ts.isTypeOnlyImportOrExportDeclaration(d))) return true;
    }
    return false;
  };

  const surface = {} as Record<Entry, EntrySurface>;
  const exportsOf = new Map<Entry, Symbol_[]>();
  const exported = new Set<import('typescript').Declaration>();
  for (const [entry, file] of Object.entries(files) as [Entry, string][]) {
    const source = program.getSourceFile(file);
    if (source === undefined) throw new Error(`${file} is missing: build first`);
    const symbols = checker.getExportsOfModule(checker.getSymbolAtLocation(source)!);
    exportsOf.set(entry, symbols);
    const values: string[] = [];
    const types: string[] = [];
    for (const symbol of symbols) {
      const target = resolveAlias(symbol);
      (target.flags & ts.SymbolFlags.Value && !typeOnlyAlias(symbol) ? values : types).push(symbol.name);
      for (const declaration of target.declarations ?? []) exported.add(declaration);
    }
    surface[entry] = { values: values.sort(), types: types.sort() };
  }

  const unexported = new Map<string, UnexportedType>();
  const ownDeclaration = (symbol: Symbol_ | undefined) => {
    const declaration = symbol?.declarations?.[0];
    const file = declaration?.getSourceFile().fileName;
    return declaration !== undefined && file !== undefined && file.startsWith(`${distDir}/`) ? declaration : undefined;
  };
  const walker = new TypeWalker(ts, checker, (symbol, path) => {
    const declaration = ownDeclaration(symbol);
    if (declaration === undefined) return 'foreign';
    const named = symbol.name !== '__type' && symbol.name !== '__object' && symbol.name !== '__function';
    if (named && !symbol.declarations!.some((d) => exported.has(d))) {
      const file = declaration.getSourceFile().fileName.slice(distDir.length + 1);
      const key = `${file}#${symbol.name}`;
      if (!unexported.has(key)) unexported.set(key, { name: symbol.name, file, path });
    }
    return 'own';
  });
  for (const [entry, symbols] of exportsOf) {
    for (const symbol of symbols) walker.walkSymbol(resolveAlias(symbol), `${entry}: ${symbol.name}`);
  }
  return { surface, unexportedTypes: [...unexported.values()].sort((a, b) => a.name.localeCompare(b.name)) };
}

/** Depth-first over the types a symbol's users can meet; stops at types declared outside this package. */
class TypeWalker {
  private readonly seen = new Set<Type_>();

  constructor(
    private readonly ts: Ts,
    private readonly checker: Checker,
    /** Told of every named type met; `foreign` stops the walk there (lib, node_modules). */
    private readonly meet: (symbol: Symbol_, path: string) => 'own' | 'foreign',
  ) {}

  walkSymbol(symbol: Symbol_, path: string): void {
    const { ts, checker } = this;
    const declaration = symbol.valueDeclaration ?? symbol.declarations?.[0];
    if (declaration === undefined) return;
    if (symbol.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias) && !(symbol.flags & ts.SymbolFlags.Value)) {
      this.walkType(checker.getDeclaredTypeOfSymbol(symbol), path);
      return;
    }
    if (symbol.flags & ts.SymbolFlags.Class) {
      const classType = checker.getTypeOfSymbolAtLocation(symbol, declaration);
      for (const signature of classType.getConstructSignatures()) this.walkSignature(signature, `${path}()`);
      this.walkType(checker.getDeclaredTypeOfSymbol(symbol), path);
      return;
    }
    this.walkType(checker.getTypeOfSymbolAtLocation(symbol, declaration), path);
  }

  private walkSignature(signature: import('typescript').Signature, path: string): void {
    const { checker } = this;
    for (const parameter of signature.getParameters()) {
      const declaration = parameter.valueDeclaration ?? parameter.declarations?.[0];
      if (declaration !== undefined) this.walkType(checker.getTypeOfSymbolAtLocation(parameter, declaration), `${path} (${parameter.name})`);
    }
    for (const typeParameter of signature.getTypeParameters() ?? []) {
      const constraint = typeParameter.getConstraint();
      if (constraint !== undefined) this.walkType(constraint, `${path} <${typeParameter.symbol.name}>`);
    }
    this.walkType(checker.getReturnTypeOfSignature(signature), `${path} →`);
  }

  walkType(type: Type_, path: string): void {
    const { ts, checker } = this;
    if (this.seen.has(type)) return;
    this.seen.add(type);
    const alias = type.aliasSymbol;
    if (alias !== undefined) {
      if (this.meet(alias, `${path} → ${alias.name}`) === 'foreign') return;
      for (const argument of type.aliasTypeArguments ?? []) this.walkType(argument, `${path} → ${alias.name}<>`);
    }
    const named = alias ?? type.getSymbol();
    const here = named !== undefined && named.name.startsWith('__') ? path : `${path}${alias === undefined && named !== undefined ? ` → ${named.name}` : ''}`;
    if (type.isUnionOrIntersection()) {
      for (const member of type.types) this.walkType(member, here);
      return;
    }
    if (
      alias === undefined &&
      named !== undefined &&
      named.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.Class | ts.SymbolFlags.TypeLiteral | ts.SymbolFlags.Enum)
    ) {
      if (!named.name.startsWith('__') && this.meet(named, here) === 'foreign') {
        // A foreign generic (Promise<T>, ReadonlyArray<T>, Record<…>) can still carry our types.
        for (const argument of checker.getTypeArguments(type as import('typescript').TypeReference) ?? []) this.walkType(argument, `${here}<>`);
        return;
      }
    }
    if (type.flags & ts.TypeFlags.Object && (type as import('typescript').ObjectType).objectFlags & ts.ObjectFlags.Reference) {
      for (const argument of checker.getTypeArguments(type as import('typescript').TypeReference)) this.walkType(argument, `${here}<>`);
    }
    if (type.flags & ts.TypeFlags.Object) {
      for (const property of checker.getPropertiesOfType(type)) {
        const declaration = property.valueDeclaration ?? property.declarations?.[0];
        if (declaration === undefined) continue;
        const modifiers = ts.getCombinedModifierFlags(declaration);
        if (modifiers & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected) || property.name.startsWith('#')) continue;
        this.walkType(checker.getTypeOfSymbolAtLocation(property, declaration), `${here}.${property.name}`);
      }
      for (const signature of type.getCallSignatures()) this.walkSignature(signature, `${here}()`);
      for (const signature of type.getConstructSignatures()) this.walkSignature(signature, `new ${here}()`);
      const index = checker.getIndexInfosOfType(type);
      for (const info of index) this.walkType(info.type, `${here}[]`);
    }
  }
}
