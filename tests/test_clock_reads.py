"""The wall clock is read inside a test, never when its module is collected: a run that crosses
midnight (the whole suite takes minutes) would otherwise turn a module's "tomorrow" into today."""

import ast
from pathlib import Path

TESTS = Path(__file__).parent


def _module_level_clock_reads(source: str) -> list[int]:
    tree = ast.parse(source)
    lines = []
    for statement in tree.body:
        nodes: list[ast.AST]
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            defaults = [*statement.args.defaults, *statement.args.kw_defaults]
            nodes = [*statement.decorator_list, *(d for d in defaults if d is not None)]
        elif isinstance(statement, ast.ClassDef):
            # Class attributes and method defaults run at collection too; method bodies do not.
            nodes = [*statement.decorator_list]
            for member in statement.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                    nodes += [*member.decorator_list, *member.args.defaults]
                else:
                    nodes.append(member)
        else:
            nodes = [statement]
        for node in nodes:
            for call in ast.walk(node):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and isinstance(call.func.value, ast.Name)
                    and call.func.value.id == "clock"
                ):
                    lines.append(call.lineno)
    return lines


def test_no_test_module_reads_the_clock_at_collection():
    found = {
        f"{path.relative_to(TESTS)}:{line}"
        for path in TESTS.rglob("*.py")
        for line in _module_level_clock_reads(path.read_text())
    }
    assert not found, f"read the clock inside the test instead: {sorted(found)}"


def test_the_guard_sees_a_module_constant_and_a_class_attribute():
    source = "from tests import clock\nTODAY = clock.today()\nclass T:\n    NOW = clock.now()\n"
    assert _module_level_clock_reads(source) == [2, 4]
    assert _module_level_clock_reads("def f(day=clock.today()):\n    pass\n") == [1]
    inside = "def test():\n    today = clock.today()\n"
    assert _module_level_clock_reads(inside) == []
