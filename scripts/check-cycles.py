#!/usr/bin/env python3
"""Fail if the modules of a crate import each other in a cycle.

Usage: scripts/check-cycles.py SRC_DIR [SRC_DIR ...]
       scripts/check-cycles.py --self-test   (proves it finds a planted cycle)

An edge A -> B is any path in A's file that names an item of B: `use
crate::b::X`, `crate::b::f()`, `super::X` resolving to B, or a re-export
(`pub use b::X`). Declaring a child (`mod b;`) is not an edge: that is
where a module lives, not what it needs. Paths through a re-export are
followed to the file that defines the item, so `use crate::Error` counts
as a dependency on `error.rs`, not on `lib.rs`. Tests (`#[cfg(test)] mod
tests { ... }` blocks and files under a `tests` module) are skipped:
they may look at their parent.

Folders too: inside every module folder (the crate root included), each
child module counts with everything under it (`records/` is one node, a
root file such as `state.rs` another), and an edge A -> B is any file under
A importing from B. A cycle there ("records/ imports routes/, which imports
records/") fails like a file cycle, printed with the file-level edges that
make it; the folder's own `mod.rs`/`lib.rs` is not part of any node (it
declares its children). A `pub use` is no folder edge: a folder that
re-exports another's item (`error/` naming every family's error type) is a
facade, and its users' edges already lead to the file that defines the item.

Folder edges listed in scripts/folder-edges-allowed.txt (`A -> B`, as
printed, with the reason and who removes it) are left out of the folder
check: known cycles being taken apart, so that a new one still fails. A
listed edge that no longer exists is reported, to be deleted from the list.

Prints every strongly connected component of more than one file or folder
(with one concrete cycle through it) and exits 1 if there is any.
"""

import os
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip_comments_and_strings(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    out = []
    for line in text.splitlines():
        # Drop line comments (including doc comments) and string contents.
        line = re.sub(r'r#*"[^"]*"#*', '""', line)
        line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
        line = line.split("//", 1)[0]
        out.append(line)
    return "\n".join(out)


def drop_test_modules(text):
    """Remove `#[cfg(test)] mod x { ... }` bodies (brace-matched)."""
    result = []
    i = 0
    pattern = re.compile(r"#\[cfg\(([^()]*\()?[^()]*test[^()]*(\))?\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+" + IDENT + r"\s*\{")
    while True:
        m = pattern.search(text, i)
        if not m:
            result.append(text[i:])
            break
        result.append(text[i : m.start()])
        depth = 0
        j = m.end() - 1
        while j < len(text):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        i = j + 1
    return "".join(result)


class Crate:
    def __init__(self, src):
        self.src = src
        self.files = {}  # module path tuple -> file path
        self.text = {}
        self.test_modules = set()
        root = "lib.rs" if os.path.exists(os.path.join(src, "lib.rs")) else "main.rs"
        self.load((), os.path.join(src, root), os.path.join(src))

    def load(self, modpath, path, dirpath):
        raw = open(path, encoding="utf-8").read()
        clean = strip_comments_and_strings(raw)
        for m in re.finditer(r"#\[cfg\(([^()]*\()?[^()]*test[^()]*(\))?\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*;", clean):
            self.test_modules.add(modpath + (m.group(5),))
        body = drop_test_modules(clean)
        self.files[modpath] = path
        self.text[modpath] = body
        for m in re.finditer(r"(?:^|\n)\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*;", clean):
            name = m.group(1)
            child = modpath + (name,)
            candidates = [os.path.join(dirpath, name + ".rs"), os.path.join(dirpath, name, "mod.rs")]
            for c in candidates:
                if os.path.exists(c):
                    self.load(child, c, os.path.join(dirpath, name))
                    break

    def is_test(self, modpath):
        return any(modpath[: i + 1] in self.test_modules for i in range(len(modpath)))

    def reexports(self, modpath):
        """name -> absolute path (tuple) for `pub use` / `pub(crate) use` items."""
        result = {}
        body = self.text.get(modpath, "")
        for m in re.finditer(r"pub(?:\([^)]*\))?\s+use\s+([^;]+);", body):
            for path, alias in expand_use(m.group(1)):
                name = alias or path[-1]
                if name in ("self", "*"):
                    continue
                result[name] = self.absolute(modpath, path)
        return result

    def absolute(self, modpath, path):
        path = list(path)
        if not path:
            return ()
        if path[0] == "crate":
            return tuple(path[1:])
        base = list(modpath)
        if path[0] in ("self", "super"):
            while path and path[0] in ("self", "super"):
                if path[0] == "super":
                    base = base[:-1]
                path = path[1:]
            return tuple(base + path)
        # A bare path: a child module of this one, if it exists.
        if tuple(base + [path[0]]) in self.files:
            return tuple(base + path)
        return None  # an outside crate or a prelude name

    def resolve(self, abspath, depth=0):
        """The module (file) that defines the item `abspath` names."""
        if abspath is None or depth > 10:
            return None
        # Longest prefix that is a module file.
        for n in range(len(abspath), -1, -1):
            prefix = tuple(abspath[:n])
            if prefix in self.files:
                rest = abspath[n:]
                if rest:
                    target = self.reexports(prefix).get(rest[0])
                    if target is not None and target != prefix + (rest[0],):
                        return self.resolve(tuple(target) + tuple(rest[1:]), depth + 1)
                return prefix
        return None

    def edges(self, reexports=True):
        """File edges; with `reexports=False`, a `pub use` (a facade
        naming another module's item for others) is not one."""
        graph = {m: set() for m in self.files if not self.is_test(m)}
        for modpath in graph:
            body = self.text[modpath]
            if not reexports:
                body = re.sub(r"\bpub(?:\([^)]*\))?\s+use\s+[^;]+;", " ", body)
            paths = []
            for m in re.finditer(r"\buse\s+([^;]+);", body):
                paths.extend(p for p, _ in expand_use(m.group(1)))
            for m in re.finditer(r"\b((?:crate|super|self)(?:::" + IDENT + r")+)", body):
                paths.append(m.group(1).split("::"))
            for path in paths:
                target = self.resolve(self.absolute(modpath, path))
                if target is None or target == modpath or target not in graph:
                    continue
                if target == () and modpath != ():
                    continue  # the crate root itself: `crate::Foo` not re-exported
                graph[modpath].add(target)
        return graph


def expand_use(tree):
    """`a::{b, c::d as e}` -> [(["a","b"], None), (["a","c","d"], "e")]."""
    tree = re.sub(r"\s+", "", tree)
    results = []

    def walk(prefix, s):
        parts = split_top(s)
        for part in parts:
            if not part:
                continue
            if "{" in part:
                head, rest = part.split("{", 1)
                rest = rest[: rest.rfind("}")]
                head = [h for h in head.split("::") if h]
                walk(prefix + head, rest)
            else:
                alias = None
                if "as" in part and re.search(r"(?<=[A-Za-z0-9_])as(?=[A-Za-z_])", part):
                    part, alias = re.split(r"(?<=[A-Za-z0-9_])as(?=[A-Za-z_])", part, maxsplit=1)
                segs = [x for x in part.split("::") if x]
                if segs == ["self"]:
                    results.append((prefix, alias))
                else:
                    results.append((prefix + segs, alias))

    walk([], tree)
    return results


def split_top(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def sccs(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            strong(v)
    return out


def one_cycle(graph, comp):
    members = set(comp)
    start = sorted(comp)[0]
    # BFS back to start inside the component.
    prev = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v]):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w in members and w not in prev:
                prev[w] = v
                queue.append(w)
    return comp


def name(crate, m):
    return os.path.relpath(crate.files[m])


def folder_graphs(graph):
    """For each module folder: its children as nodes (each with everything
    under it) and, per edge between two of them, the file edges behind it."""
    folders = {m[:i] for m in graph for i in range(len(m))}
    result = {}
    for folder in sorted(folders):
        depth = len(folder)
        nodes, why = {}, {}
        for src, targets in graph.items():
            if len(src) <= depth or src[:depth] != folder:
                continue
            a = src[: depth + 1]
            nodes.setdefault(a, set())
            for dst in targets:
                if len(dst) <= depth or dst[:depth] != folder:
                    continue
                b = dst[: depth + 1]
                nodes.setdefault(b, set())
                if a != b:
                    nodes[a].add(b)
                    why.setdefault((a, b), []).append((src, dst))
        result[folder] = (nodes, why)
    return result


def reaches(graph, start, goal):
    """Whether `goal` can be reached from `start` along `graph`'s edges."""
    stack, seen = [start], {start}
    while stack:
        v = stack.pop()
        if v == goal:
            return True
        for w in graph.get(v, ()):
            if w not in seen:
                seen.add(w)
                stack.append(w)
    return False


def node_name(crate, m):
    path = crate.files[m]
    if os.path.basename(path) in ("mod.rs",):
        return os.path.relpath(os.path.dirname(path)) + "/"
    if any(k[: len(m)] == m and len(k) > len(m) for k in crate.files):
        return os.path.relpath(path[: -len(".rs")]) + "/"
    return os.path.relpath(path)


def allowed_folder_edges():
    """`(A, B)` node names from scripts/folder-edges-allowed.txt, if present."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "folder-edges-allowed.txt")
    if not os.path.exists(path):
        return set()
    allowed = set()
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if "->" in line:
            a, b = (x.strip() for x in line.split("->", 1))
            allowed.add((a, b))
    return allowed


def folder_cycles(crate, graph, allowed=frozenset()):
    """Lines describing each folder-level cycle (empty when there is none),
    leaving out the `allowed` edges; and the allowed edges that are gone."""
    lines, seen = [], set()
    for folder, (nodes, why) in folder_graphs(graph).items():
        removed = []
        for a in nodes:
            for b in list(nodes[a]):
                edge = (node_name(crate, a), node_name(crate, b))
                if edge in allowed:
                    removed.append((a, b))
                    nodes[a].discard(b)
        # An allowed edge counts as needed only while it closes a cycle.
        for a, b in removed:
            if reaches(nodes, b, a):
                seen.add((node_name(crate, a), node_name(crate, b)))
        for comp in sccs(nodes):
            if len(comp) < 2:
                continue
            cycle = one_cycle(nodes, comp)
            where = name(crate, folder) if folder else "the crate root"
            lines.append(f"folder cycle under {where} ({len(comp)} nodes): " + " -> ".join(node_name(crate, m) for m in cycle))
            if os.environ.get("VERBOSE"):
                for m in sorted(comp):
                    deps = sorted(node_name(crate, w) for w in nodes[m] if w in comp)
                    lines.append(f"    {node_name(crate, m)} -> {', '.join(deps)}")
            for a, b in zip(cycle, cycle[1:]):
                for src, dst in sorted(why[(a, b)])[:5]:
                    lines.append(f"  {name(crate, src)} -> {name(crate, dst)}")
    return lines, seen


def self_test():
    """Plants each kind of cycle the check must see in a scratch crate."""
    import tempfile

    cases = {
        "use": {"lib.rs": "mod a;\nmod b;\n", "a.rs": "use crate::b::B;\npub struct A;\n", "b.rs": "use crate::a::A;\npub struct B;\n"},
        "inline path": {"lib.rs": "mod a;\nmod b;\n", "a.rs": "pub fn f() { crate::b::g() }\n", "b.rs": "pub fn g() { crate::a::f() }\n"},
        "re-export": {
            "lib.rs": "mod m;\n",
            "m/mod.rs": "mod c;\npub use c::C;\npub struct Shared;\n",
            "m/c.rs": "use super::Shared;\npub struct C(Shared);\n",
        },
        "through root re-export": {
            "lib.rs": "mod a;\nmod b;\npub use b::B;\n",
            "a.rs": "use crate::B;\npub struct A;\n",
            "b.rs": "use crate::a::A;\npub struct B;\n",
        },
    }
    folder_cases = {
        # No file cycle (x.rs -> b.rs -> a/y.rs), but a/ -> b -> a/.
        "folder": {
            "lib.rs": "mod a;\nmod b;\n",
            "a/mod.rs": "mod x;\nmod y;\n",
            "a/x.rs": "use crate::b::B;\npub struct X;\n",
            "a/y.rs": "pub struct Y;\n",
            "b.rs": "use crate::a::y::Y;\npub struct B(Y);\n",
        },
        # Folders inside folders: p/q/ -> p/r.rs -> p/q/ (no file cycle).
        "nested folder": {
            "lib.rs": "mod p;\n",
            "p/mod.rs": "mod q;\nmod r;\n",
            "p/q/mod.rs": "mod s;\nmod t;\n",
            "p/q/s.rs": "use crate::p::r::R;\npub struct S;\n",
            "p/q/t.rs": "pub struct T;\n",
            "p/r.rs": "use super::q::t::T;\npub struct R(T);\n",
        },
    }
    clean = {"lib.rs": "mod a;\nmod b;\n", "a.rs": "pub struct A;\n#[cfg(test)]\nmod tests { use crate::b::B; }\n", "b.rs": "use crate::a::A;\npub struct B(A);\n"}
    # Folders that import each other's items only one way, and a folder
    # whose files use each other and their own mod.rs.
    clean_folders = {
        "lib.rs": "mod a;\nmod b;\npub use b::B;\n",
        "a/mod.rs": "mod x;\nmod y;\npub struct Shared;\n",
        "a/x.rs": "use super::y::Y;\nuse super::Shared;\npub struct X(Y, Shared);\n",
        "a/y.rs": "pub struct Y;\n",
        "b/mod.rs": "mod z;\npub use z::B;\n",
        "b/z.rs": "use crate::a::x::X;\npub struct B(X);\n",
    }
    # An error folder re-exporting each family's error, used by that family.
    clean_facade = {
        "lib.rs": "mod error;\nmod fam;\n",
        "error/mod.rs": "pub use crate::fam::FamError;\npub struct Error;\n",
        "fam/mod.rs": "mod client;\nmod failure;\npub use failure::FamError;\n",
        "fam/failure.rs": "pub struct FamError;\n",
        "fam/client.rs": "use crate::error::Error;\npub fn f() -> Error { Error }\n",
    }
    ok = True
    clean_cases = [("clean", clean), ("clean folders", clean_folders), ("clean facade", clean_facade)]
    for label, files in list(cases.items()) + list(folder_cases.items()) + clean_cases:
        with tempfile.TemporaryDirectory() as root:
            for path, text in files.items():
                os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
                open(os.path.join(root, path), "w").write(text)
            crate = Crate(root)
            graph = crate.edges()
            found = any(len(c) > 1 for c in sccs(graph)) or bool(folder_cycles(crate, crate.edges(reexports=False))[0])
            expected = not label.startswith("clean")
            print(f"self-test {label}: {'cycle found' if found else 'no cycle'}")
            ok &= found == expected
    sys.exit(0 if ok else 1)


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
    failed = False
    for src in sys.argv[1:] or ["src"]:
        crate = Crate(src)
        graph = crate.edges()
        for comp in sccs(graph):
            if len(comp) > 1:
                failed = True
                cycle = one_cycle(graph, comp)
                print(f"import cycle in {src} ({len(comp)} files): " + " -> ".join(name(crate, m) for m in cycle))
                if os.environ.get("VERBOSE"):
                    for m in sorted(comp):
                        deps = sorted(name(crate, w) for w in graph[m] if w in comp)
                        print(f"  {name(crate, m)} -> {', '.join(deps)}")
        allowed = allowed_folder_edges()
        lines, seen = folder_cycles(crate, crate.edges(reexports=False), allowed)
        for a, b in sorted(e for e in allowed if e[0].startswith(src.rstrip("/") + "/") and e not in seen):
            print(f"note: allowed folder edge {a} -> {b} closes no cycle any more; delete it from folder-edges-allowed.txt")
        if lines:
            failed = True
            print(f"import cycles between folders in {src}:")
            print("\n".join(lines))
        elif not failed:
            print(f"{src}: {len(graph)} modules, no import cycles between files or folders")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
