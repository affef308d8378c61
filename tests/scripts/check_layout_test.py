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


class FindFunctions(unittest.TestCase):
    def test_counts_the_lines_between_the_braces(self):
        src = 'int f(int x) {\n' + body(7) + '\n  return x;\n}\n'
        self.assertEqual(functions(src), {'f': 8})

    def test_braces_in_strings_chars_comments_and_raw_strings_do_not_count(self):
        src = ('void f() {\n'
               '  auto a = "{\\"name\\":";  // }}}\n'
               '  char b = \'{\';\n'
               '  /* { */\n'
               '  auto c = R"x({"a": })x";\n'
               '  int d = 1\'000;\n'
               '}\n'
               'void g() {\n  h();\n}\n')
        self.assertEqual(functions(src), {'f': 5, 'g': 1})

    def test_lambdas_and_local_classes_belong_to_the_enclosing_function(self):
        src = ('int f() {\n'
               '  auto add = [](int a, int b) {\n    return a + b;\n  };\n'
               '  struct Local {\n    int v() { return 1; }\n  };\n'
               '  return add(1, Local{}.v());\n'
               '}\n')
        self.assertEqual(functions(src), {'f': 7})

    def test_members_in_namespaces_and_classes(self):
        src = ('namespace a {\nnamespace {\n'
               'class Box : public Base {\n public:\n'
               '  int size() const {\n    return n_;\n  }\n'
               ' private:\n  int n_{0};\n};\n'
               '}  // namespace\n'
               'template <class T>\nT Box2<T>::get() const {\n  return T{};\n}\n'
               '}  // namespace a\n')
        self.assertEqual(functions(src), {'size': 1, 'Box2<T>::get': 1})

    def test_constructor_initializer_braces_are_part_of_the_head(self):
        src = ('Foo::Foo(int a, std::vector<int> v)\n'
               '    : a_{a}, v_(std::move(v)), m_{{1, 2}} {\n'
               '  check();\n  more();\n'
               '}\n')
        self.assertEqual(functions(src), {'Foo::Foo': 2})

    def test_initializers_enums_and_preprocessor_are_no_functions(self):
        src = ('#define BLOCK(x) { x; }\n'
               'const std::vector<int> kTable = {\n  1,\n  2,\n};\n'
               'const auto kMake = [](int n) {\n  return n;\n};\n'
               'enum class Kind {\n  a,\n  b,\n};\n'
               'extern "C" {\nint c_api(int x) {\n  return x;\n}\n}\n')
        self.assertEqual(functions(src), {'c_api': 1})

    def test_macro_definitions_keep_their_arguments(self):
        src = 'TEST(Suite, DoesThing) {\n  EXPECT_EQ(1, 1);\n}\n'
        self.assertEqual(functions(src), {'TEST(Suite, DoesThing)': 1})

    def test_braced_arguments_inside_a_head(self):
        src = 'void f(std::vector<int> v = {1, 2}) {\n  g({3, 4});\n}\n'
        self.assertEqual(functions(src), {'f': 1})


class Main(unittest.TestCase):
    def run_check(self, files, exceptions=''):
        with tempfile.TemporaryDirectory() as repo:
            for rel, text in files.items():
                os.makedirs(os.path.dirname(os.path.join(repo, rel)) or repo, exist_ok=True)
                with open(os.path.join(repo, rel), 'w') as f:
                    f.write(text)
            args = [repo, '--exceptions', os.path.join(repo, 'exceptions.txt')] + sorted(files)
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


if __name__ == '__main__':
    unittest.main()
