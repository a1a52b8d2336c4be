// The project's import graph in numbers: files, imports, the cycles among files (strongly
// connected components), the folders that import each other, and the largest file. Used by
// `npm run graph` and by the test that keeps the graph free of cycles (test/unit/import-graph.test.ts).
// Type-only imports count: a layer that names another's types depends on it all the same.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export type ImportGraph = {
  files: string[];
  edges: Map<string, Set<string>>;
  lines: Map<string, number>;
};

const SOURCE_ROOTS = ['electron', 'shared', 'renderer', 'scripts', 'bench'];
const SPECIFIER =
  /(?:^|[\s;])(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;

function sourceFiles(root: string, folder: string): string[] {
  const found: string[] = [];
  const walk = (path: string): void => {
    for (const name of readdirSync(path)) {
      const child = join(path, name);
      if (statSync(child).isDirectory()) {
        if (name !== 'node_modules' && name !== 'dist') walk(child);
      } else if (/\.tsx?$/.test(name)) found.push(relative(root, child));
    }
  };
  walk(join(root, folder));
  return found;
}

/** Reads the graph of the project at `root` (relative imports only: packages are leaves). */
export function readImportGraph(root: string): ImportGraph {
  const files = SOURCE_ROOTS.flatMap((folder) => {
    try {
      return sourceFiles(root, folder);
    } catch {
      return [];
    }
  }).sort();
  const known = new Set(files);
  const edges = new Map<string, Set<string>>();
  const lines = new Map<string, number>();
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    lines.set(file, text.split('\n').length - (text.endsWith('\n') ? 1 : 0));
    const targets = new Set<string>();
    for (const match of text.matchAll(SPECIFIER)) {
      const specifier = match[1] ?? match[2] ?? match[3];
      if (!specifier?.startsWith('.')) continue;
      const target = relative(root, resolve(root, dirname(file), specifier));
      if (known.has(target)) targets.add(target);
    }
    edges.set(file, targets);
  }
  return { files, edges, lines };
}

/** Strongly connected components of more than one file (or a file importing itself): each is a cycle. */
export function cycles(graph: ImportGraph): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  // Iterative Tarjan: deep graphs must not overflow the call stack.
  for (const start of graph.files) {
    if (index.has(start)) continue;
    const work: { node: string; next: string[] }[] = [];
    const enter = (node: string): void => {
      index.set(node, counter);
      low.set(node, counter);
      counter++;
      stack.push(node);
      onStack.add(node);
      work.push({ node, next: [...(graph.edges.get(node) ?? [])] });
    };
    enter(start);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { node: string; next: string[] };
      const target = frame.next.shift();
      if (target !== undefined) {
        if (!index.has(target)) enter(target);
        else if (onStack.has(target)) low.set(frame.node, Math.min(low.get(frame.node) as number, index.get(target) as number));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node) as number, low.get(frame.node) as number));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
          onStack.delete(member);
          component.push(member);
          if (member === frame.node) break;
        }
        if (component.length > 1 || graph.edges.get(frame.node)?.has(frame.node)) components.push(component.sort());
      }
    }
  }
  return components;
}

/** A file's module for the folder count: its folder below a root (electron/restore), or itself
 * when it sits at a root's top (electron/errors.ts is a module of its own, not "electron"). */
export function folderOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? parts.slice(0, 2).join('/') : file;
}

/** Pairs of folders that import each other, each pair once. */
export function mutualFolders(graph: ImportGraph): [string, string][] {
  const folderEdges = new Set<string>();
  for (const [file, targets] of graph.edges) {
    for (const target of targets) if (folderOf(file) !== folderOf(target)) folderEdges.add(`${folderOf(file)} ${folderOf(target)}`);
  }
  const pairs: [string, string][] = [];
  for (const edge of folderEdges) {
    const [from, to] = edge.split(' ') as [string, string];
    if (from < to && folderEdges.has(`${to} ${from}`)) pairs.push([from, to]);
  }
  return pairs.sort();
}

function report(root: string): void {
  const graph = readImportGraph(root);
  const found = cycles(graph);
  const pairs = mutualFolders(graph);
  const imports = [...graph.edges.values()].reduce((sum, targets) => sum + targets.size, 0);
  const [largest, largestLines] = [...graph.lines].reduce((most, entry) => (entry[1] > most[1] ? entry : most));
  const over300 = [...graph.lines.values()].filter((count) => count > 300).length;
  console.log(`files ${graph.files.length}, imports ${imports}`);
  console.log(
    `cycles ${found.length} (files in cycles ${found.reduce((sum, component) => sum + component.length, 0)}${found.length > 0 ? `, largest ${Math.max(...found.map((component) => component.length))}` : ''})`,
  );
  for (const component of found) console.log(`  cycle: ${component.join(' ')}`);
  console.log(`folder pairs importing each other ${pairs.length}`);
  for (const [a, b] of pairs) console.log(`  ${a} <-> ${b}`);
  console.log(`largest file ${largest} (${largestLines} lines); files over 300 lines ${over300}`);
}

if (import.meta.main) report(resolve(process.argv[2] ?? '.'));
