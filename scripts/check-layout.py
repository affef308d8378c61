#!/usr/bin/env python3
"""Checks the layout rule of issue 27: no C++ source file over 600 lines, no function over 120,
each library's code in its own namespace.

Scans the C++ sources git tracks (git ls-files '*.cpp' '*.h') under the repository root (the
parent of this script's folder, or --repo DIR) and prints one line per
breach, `file:line name length`, then exits 1 if there was any, 0 if none.

A function is a brace-matched body whose head is a definition at file, namespace or class level
(a head with a parameter list that is not a class, namespace, enum or `= {...}` initializer);
everything inside it, lambdas and local classes included, counts as the function. Its length is the
number of lines between its braces (the body lines; `{` and `}` lines not counted). Braces inside
strings, raw strings, character literals, comments and preprocessor lines are skipped.

Each library folder's code (FOLDER/include and FOLDER/src; all of apps/) declares at file level only its own
namespace, nce::NS or a namespace inside it (NS is the folder's name, `app` for apps/; see
LIBRARY_NAMESPACES), or an anonymous one; a breach prints `file:line (namespace) NAME, not nce::NS`.

Known breaches not yet split (in code other work owns at the time) are listed in
scripts/layout-exceptions.txt, one `path name lines` a line: such a function passes while it is no
longer than the lines recorded there (a ratchet: it may shrink, never grow); an entry whose file is
gone matches the same file name in another folder (a moved folder), with a note to update it; an
entry that no longer breaches the rule is reported as stale, to be removed.

Usage: scripts/check-layout.py [--repo DIR] [--max-file-lines N] [--max-function-lines N]
                               [--exceptions FILE] [FILE...]
"""
import argparse
import os
import re
import subprocess
import sys

MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 120


def blank_literals_and_comments(text):
    """Returns text with comments, string/char literals and preprocessor lines replaced by spaces
    (newlines kept, so offsets and line numbers stay the same)."""
    out = list(text)
    n = len(text)
    i = 0
    at_line_start = True  # only whitespace seen since the last newline

    def blank(a, b):
        for k in range(a, b):
            if out[k] != '\n':
                out[k] = ' '

    while i < n:
        c = text[i]
        if c == '\n':
            at_line_start = True
            i += 1
            continue
        if c in ' \t\r\f\v':
            i += 1
            continue
        if at_line_start and c == '#':
            # A preprocessor directive, with its backslash continuations (comments inside are
            # blanked with it).
            j = i
            while j < n:
                if text[j] == '\n' and text[j - 1] != '\\':
                    break
                j += 1
            blank(i, j)
            i = j
            continue
        at_line_start = False
        if text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
            continue
        if text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            blank(i, j)
            i = j
            continue
        raw = re.match(r'(?:u8|u|U|L)?R"([^ ()\\\t\n]{0,16})\(', text[i:i + 24])
        if raw and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == '_')):
            close = ')' + raw.group(1) + '"'
            j = text.find(close, i + raw.end())
            j = n if j < 0 else j + len(close)
            blank(i, j)
            i = j
            continue
        if c == '"' or (c == "'" and not (i > 0 and text[i - 1].isalnum())):
            # A string or char literal. A quote right after a digit or letter is a digit separator
            # (1'000'000) or part of a prefix we do not care about: u8'x' starts at the quote
            # anyway, since the letters before it are not braces.
            j = i + 1
            while j < n and text[j] != c and text[j] != '\n':
                j += 2 if text[j] == '\\' else 1
            j = min(j + 1, n)
            blank(i, j)
            i = j
            continue
        i += 1
    return ''.join(out)


_TEMPLATE_PREFIX = re.compile(r'^\s*template\s*<')
_WORD = re.compile(r'[A-Za-z_]\w*')


def strip_template_prefix(head):
    """Drops leading `template <...>` clauses (angle brackets matched) from a head."""
    while True:
        m = _TEMPLATE_PREFIX.match(head)
        if not m:
            return head
        depth = 1
        k = m.end()
        while k < len(head) and depth:
            if head[k] == '<':
                depth += 1
            elif head[k] == '>':
                depth -= 1
            k += 1
        head = head[k:]


def classify(head):
    """What a `{` opens at file, namespace or class level, from the text before it."""
    h = strip_template_prefix(head).strip()
    h = re.sub(r'\[\[.*?\]\]', ' ', h).strip()
    words = _WORD.findall(h)
    first = words[0] if words else ''
    if first in ('namespace', 'inline') and 'namespace' in words[:2]:
        return 'scope'
    if first == 'extern' and '(' not in h:
        return 'scope'  # extern "C" { (the string is blanked)
    if first in ('class', 'struct', 'union'):
        return 'scope'
    if first in ('typedef', 'using') and re.search(r'\b(class|struct|union)\b', h):
        return 'scope'
    if first == 'enum' or re.search(r'\benum\b', h):
        return 'block'
    if '(' not in h:
        return 'block'
    # An initializer: `T x = {...}` or `T x = [] {...}` (a lambda at namespace level is no function
    # definition of its own). A '=' inside the parameter list (a default argument) does not count.
    depth = 0
    for k, ch in enumerate(h):
        if ch in '(<[':
            depth += 1
        elif ch in ')>]':
            depth -= 1
        elif ch == '=' and depth <= 0 and not h.startswith('operator', max(0, k - 8)):
            prev = h[k - 1] if k else ''
            nxt = h[k + 1] if k + 1 < len(h) else ''
            if prev not in '=!<>+-*/%&|^' and nxt != '=':
                return 'block'
    return 'function'


def function_name(head):
    """The name a function's head declares: the (qualified) id before its parameter list, with a
    macro's arguments (TEST(Suite, Name)) kept."""
    h = strip_template_prefix(head)
    k = h.find('(')
    m = re.search(r'((?:[A-Za-z_~]\w*\s*(?:<[^()]*>)?\s*::\s*)*(?:operator\s*(?:\(\)|[^\s(]+)|~?[A-Za-z_]\w*))\s*$',
                  h[:k] if not re.search(r'operator\s*\(\)\s*$', h[:k + 2]) else h[:k + 2])
    name = re.sub(r'\s+', '', m.group(1)) if m else h[:k].strip().split()[-1:] or '?'
    if isinstance(name, list):
        name = name[0] if name else '?'
    if re.fullmatch(r'[A-Z][A-Z0-9_]*', name):
        depth = 0
        for j in range(k, len(h)):
            depth += h[j] == '('
            depth -= h[j] == ')'
            if depth == 0:
                args = re.sub(r'\s+', ' ', h[k:j + 1])
                return name + args
    return name


def find_functions(text):
    """Yields (start_line, name, body_lines) for every function definition in C++ source text."""
    code = blank_literals_and_comments(text)
    line_starts = [0]
    for k, ch in enumerate(code):
        if ch == '\n':
            line_starts.append(k + 1)

    def line_of(offset):
        lo, hi = 0, len(line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    n = len(code)

    def matching_brace(open_at):
        depth = 0
        for k in range(open_at, n):
            if code[k] == '{':
                depth += 1
            elif code[k] == '}':
                depth -= 1
                if depth == 0:
                    return k
        return n - 1

    results = []
    i = 0
    head_start = 0
    paren_depth = 0
    while i < n:
        ch = code[i]
        if ch == '(':
            paren_depth += 1
        elif ch == ')':
            paren_depth = max(0, paren_depth - 1)
        elif ch == ';' and paren_depth == 0:
            head_start = i + 1
        elif ch == '}':
            # The end of a scope (namespace or class) we descended into.
            head_start = i + 1
            paren_depth = 0
        elif ch == '{':
            head = code[head_start:i]
            if paren_depth > 0 or _in_member_initializer(head):
                # A braced argument (f({1, 2})) or a member's braced initializer in a
                # constructor's initializer list (: x_{a}, y_(b)): part of the head.
                i = matching_brace(i) + 1
                continue
            kind = classify(head)
            if kind == 'scope':
                head_start = i + 1
                i += 1
                continue
            close = matching_brace(i)
            if kind == 'function':
                stripped = head.lstrip()
                start = line_of(head_start + (len(head) - len(stripped)))
                results.append((start, function_name(head), max(0, line_of(close) - line_of(i) - 1)))
            i = close + 1
            head_start = i
            paren_depth = 0
            continue
        i += 1
    return results


def _in_member_initializer(head):
    """True when head ends inside a constructor's initializer list at a member or base name
    (`Foo::Foo(int a) : x_` before `{a}`): after the parameter list's `)` comes a lone ':' and
    the head ends with a name (or a template's '>')."""
    h = strip_template_prefix(head).rstrip()
    if not h or not (h[-1].isalnum() or h[-1] in '_>'):
        return False
    depth = 0
    closed_params = False
    for k, ch in enumerate(h):
        if ch == '(':
            depth += 1
        elif ch == ')':
            depth -= 1
            if depth == 0:
                closed_params = True
        elif ch == ':' and depth == 0 and closed_params:
            if h[k - 1] != ':' and (k + 1 >= len(h) or h[k + 1] != ':'):
                return True
    return False


# Library folder -> its namespace below nce:: (issue 27 item 4: each library its own namespace).
LIBRARY_NAMESPACES = {
    'apps': 'app', 'campaign': 'campaign', 'common': 'common', 'deploy': 'deploy',
    'models': 'models', 'nn': 'nn', 'record': 'record', 'results': 'results', 'search': 'search',
    'sim': 'sim', 'sweep': 'sweep',
}
_NAMESPACE_OPEN = re.compile(r'\bnamespace\s+([A-Za-z_][\w:]*)?\s*\{')


def namespace_breaches(rel, text):
    """Yields (line, name, wanted) for each file-level namespace of a library source that is not
    its library's (nested ones are inside an allowed one, so only depth 0 counts)."""
    parts = rel.replace(os.sep, '/').split('/')
    wanted = LIBRARY_NAMESPACES.get(parts[0])
    if wanted is None or len(parts) < 3 or (parts[1] not in ('include', 'src') and parts[0] != 'apps'):
        return
    wanted = 'nce::' + wanted
    code = blank_literals_and_comments(text)
    depth = 0
    at = 0
    for m in _NAMESPACE_OPEN.finditer(code):
        depth += code.count('{', at, m.start()) - code.count('}', at, m.start())
        at = m.start()
        name = m.group(1)
        if depth == 0 and name and name != wanted and not name.startswith(wanted + '::'):
            yield code.count('\n', 0, m.start()) + 1, name, wanted


def read_exceptions(path):
    """{(path, name): lines} from an exceptions file (`#` starts a comment)."""
    known = {}
    if not path or not os.path.isfile(path):
        return known
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            fields = line.split()
            if len(fields) != 3 or not fields[2].isdigit():
                raise SystemExit(f'{path}:{number}: expected `path name lines`, got: {line}')
            known[(fields[0], fields[1])] = int(fields[2])
    return known


def tracked_sources(repo):
    """The C++ sources git tracks; outside a git checkout (a source archive), every *.cpp and *.h
    below repo but in hidden folders and build trees (folders holding a CMakeCache.txt)."""
    try:
        out = subprocess.run(['git', 'ls-files', '*.cpp', '*.h'], cwd=repo, check=True,
                             capture_output=True, text=True).stdout
        return [p for p in out.splitlines() if p]
    except (OSError, subprocess.CalledProcessError):
        found = []
        for folder, dirs, names in os.walk(repo):
            dirs[:] = sorted(d for d in dirs if not d.startswith('.') and
                             not os.path.exists(os.path.join(folder, d, 'CMakeCache.txt')))
            found += [os.path.relpath(os.path.join(folder, n), repo) for n in sorted(names)
                      if n.endswith(('.cpp', '.h'))]
        return found


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repo', default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        help='the repository root (default: this script\'s folder\'s parent)')
    parser.add_argument('files', nargs='*',
                        help='check these files (relative to the root) instead of git ls-files')
    parser.add_argument('--max-file-lines', type=int, default=MAX_FILE_LINES)
    parser.add_argument('--max-function-lines', type=int, default=MAX_FUNCTION_LINES)
    parser.add_argument('--exceptions', help='known breaches (default: scripts/layout-exceptions.txt '
                        'under --repo; pass an empty string for none)')
    args = parser.parse_intermixed_args(argv)
    if args.exceptions is None:
        args.exceptions = os.path.join(args.repo, 'scripts', 'layout-exceptions.txt')
    known = read_exceptions(args.exceptions)
    # Entries whose file is gone (moved to another folder) match the same file name there.
    moved = {(os.path.basename(path), name): (path, name) for path, name in known
             if not os.path.isfile(os.path.join(args.repo, path))}
    seen = set()

    files = args.files or tracked_sources(args.repo)
    breaches = 0
    for rel in files:
        path = os.path.join(args.repo, rel)
        if not os.path.isfile(path):
            continue  # deleted in the work tree but still tracked
        with open(path, encoding='utf-8', errors='replace') as f:
            text = f.read()
        lines = text.count('\n') + (0 if text.endswith('\n') or not text else 1)
        if lines > args.max_file_lines:
            print(f'{rel}:1 (file) {lines} lines > {args.max_file_lines}')
            breaches += 1
        for line, name, wanted in namespace_breaches(rel, text):
            print(f'{rel}:{line} (namespace) {name}, not {wanted}')
            breaches += 1
        for start, name, length in find_functions(text):
            if length <= args.max_function_lines:
                continue
            key = (rel, name)
            if key not in known:
                key = moved.get((os.path.basename(rel), name), key)
            allowed = known.get(key)
            if allowed is not None and length <= allowed:
                seen.add(key)
                print(f'{rel}:{start} {name} {length} lines (known exception, at most {allowed})' +
                      (f'; listed as {key[0]}: update its path' if key[0] != rel else ''))
                continue
            print(f'{rel}:{start} {name} {length} lines > {args.max_function_lines}')
            breaches += 1
    if not args.files:
        for rel, name in sorted(set(known) - seen):
            print(f'note: stale exception {rel} {name} (no longer over the limit or not found): '
                  f'remove it from {args.exceptions}')
    print(f'check-layout: {len(files)} files, {breaches} over the limits '
          f'(files {args.max_file_lines} lines, functions {args.max_function_lines} lines, '
          f'library namespaces), '
          f'{len(seen)} known exceptions')
    return 1 if breaches else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
