#!/usr/bin/env python3
"""Tests of scripts/check-layout.py: what it counts as a function, how long, and when it fails."""
import contextlib
import importlib.util
import io
import os
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'scripts',
                      'check-layout.py')
spec = importlib.util.spec_from_file_location('check_layout', SCRIPT)
check_layout = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_layout)


def body(lines, text='  x += 1;'):
    return '\n'.join([text] * lines)


def functions(source):
    return {name: length for _, name, length in check_layout.find_functions(source)}


# (what the case shows, source, {function name: body lines}).
CASES = [
    ('the lines between the braces count',
     'int f(int x) {\n' + body(7) + '\n  return x;\n}\n', {'f': 8}),
    ('braces in strings, chars, comments and raw strings do not count',
     'void f() {\n'
     '  auto a = "{\\"name\\":";  // }}}\n'
     '  char b = \'{\';\n'
     '  /* { */\n'
     '  auto c = R"x({"a": })x";\n'
     '  int d = 1\'000;\n'
     '}\n'
     'void g() {\n  h();\n}\n', {'f': 5, 'g': 1}),
    ('lambdas and local classes belong to the enclosing function',
     'int f() {\n'
     '  auto add = [](int a, int b) {\n    return a + b;\n  };\n'
     '  struct Local {\n    int v() { return 1; }\n  };\n'
     '  return add(1, Local{}.v());\n'
     '}\n', {'f': 7}),
    ('members in namespaces and classes',
     'namespace a {\nnamespace {\n'
     'class Box : public Base {\n public:\n'
     '  int size() const {\n    return n_;\n  }\n'
     ' private:\n  int n_{0};\n};\n'
     '}  // namespace\n'
     'template <class T>\nT Box2<T>::get() const {\n  return T{};\n}\n'
     '}  // namespace a\n', {'size': 1, 'Box2<T>::get': 1}),
    ('constructor initializer braces are part of the head',
     'Foo::Foo(int a, std::vector<int> v)\n'
     '    : a_{a}, v_(std::move(v)), m_{{1, 2}} {\n'
     '  check();\n  more();\n'
     '}\n', {'Foo::Foo': 2}),
    ('initializers, enums and preprocessor lines are no functions',
     '#define BLOCK(x) { x; }\n'
     'const std::vector<int> kTable = {\n  1,\n  2,\n};\n'
     'const auto kMake = [](int n) {\n  return n;\n};\n'
     'enum class Kind {\n  a,\n  b,\n};\n'
     'extern "C" {\nint c_api(int x) {\n  return x;\n}\n}\n', {'c_api': 1}),
    ('a macro definition keeps its arguments',
     'TEST(Suite, DoesThing) {\n  EXPECT_EQ(1, 1);\n}\n', {'TEST(Suite, DoesThing)': 1}),
    ('braced arguments inside a head',
     'void f(std::vector<int> v = {1, 2}) {\n  g({3, 4});\n}\n', {'f': 1}),
]


class FindFunctions(unittest.TestCase):
    def test_cases(self):
        for what, source, want in CASES:
            with self.subTest(what):
                self.assertEqual(functions(source), want)


class Main(unittest.TestCase):
    def run_check(self, files, exceptions=''):
        with tempfile.TemporaryDirectory() as repo:
            for rel, text in files.items():
                os.makedirs(os.path.dirname(os.path.join(repo, rel)) or repo, exist_ok=True)
                with open(os.path.join(repo, rel), 'w') as f:
                    f.write(text)
            args = ['--repo', repo, '--exceptions', os.path.join(repo, 'exceptions.txt')]
            args += sorted(files)
            with open(os.path.join(repo, 'exceptions.txt'), 'w') as f:
                f.write(exceptions)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = check_layout.main(args)
            return rc, out.getvalue()

    def test_a_function_of_120_lines_passes_and_one_of_121_fails(self):
        rc, out = self.run_check({'a.cpp': 'void f() {\n' + body(120) + '\n}\n'})
        self.assertEqual(rc, 0, out)
        rc, out = self.run_check({'src/a.cpp': 'int x;\nvoid f() {\n' + body(121) + '\n}\n'})
        self.assertEqual(rc, 1)
        self.assertIn('src/a.cpp:2 f 121 lines > 120', out)

    def test_a_file_of_601_lines_fails(self):
        rc, out = self.run_check({'a.h': body(600, '// line') + '\n'})
        self.assertEqual(rc, 0, out)
        rc, out = self.run_check({'a.h': body(601, '// line') + '\n'})
        self.assertEqual(rc, 1)
        self.assertIn('a.h:1 (file) 601 lines > 600', out)

    def test_a_known_exception_may_shrink_but_not_grow(self):
        src = 'void f() {\n' + body(130) + '\n}\n'
        rc, out = self.run_check({'a.cpp': src}, 'a.cpp f 130  # not yet split\n')
        self.assertEqual(rc, 0, out)
        self.assertIn('known exception', out)
        rc, out = self.run_check({'a.cpp': src}, 'a.cpp f 129\n')
        self.assertEqual(rc, 1, out)

    def test_an_exception_follows_its_file_to_another_folder(self):
        src = 'void f() {\n' + body(130) + '\n}\n'
        rc, out = self.run_check({'new/a.cpp': src}, 'old/a.cpp f 130\n')
        self.assertEqual(rc, 0, out)
        self.assertIn('listed as old/a.cpp: update its path', out)
        rc, out = self.run_check({'new/a.cpp': src, 'old/a.cpp': 'int x;\n'}, 'old/a.cpp f 130\n')
        self.assertEqual(rc, 1, out)  # the listed file is still there: no match elsewhere

    def test_a_library_declares_only_its_own_namespace(self):
        ok = ('namespace nce::nn {\nnamespace {\nint a;\n}  // namespace\n'
              'namespace detail { int b; }\n}  // namespace nce::nn\n'
              'namespace nce::nn::detail {\nint c;\n}\nnamespace fs = std::filesystem;\n')
        rc, out = self.run_check({'nn/src/a.cpp': ok, 'apps/nce/main.cpp': 'namespace nce::app {}\n',
                                  'tests/nn/t.cpp': 'namespace nce {}\n',
                                  'apps/src/b.cpp': 'namespace nce::app {}\n'})
        self.assertEqual(rc, 0, out)
        rc, out = self.run_check({'common/include/nce/common/a.h':
                                  '// namespace nce {\nnamespace nce {\nint a;\n}\n'})
        self.assertEqual(rc, 1, out)
        self.assertIn('common/include/nce/common/a.h:2 (namespace) nce, not nce::common', out)
        rc, out = self.run_check({'apps/nce/main.cpp': 'namespace nce {}\n'})
        self.assertEqual(rc, 1, out)
        rc, out = self.run_check({'sim/src/a.cpp': 'namespace nce::simulator {}\n'})
        self.assertEqual(rc, 1, out)
        self.assertIn('(namespace) nce::simulator, not nce::sim', out)


if __name__ == '__main__':
    unittest.main()
