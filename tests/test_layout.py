"""The layout's promises (docs/ARCHITECTURE.md): stage folders are independent, config loading imports no
stage code, generated files match the registries, and a transform cannot drop a column silently."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ROOT / "curation" / "stages"


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_no_stage_imports_another_stage():
    from curation.stages import names

    offenders = []
    for name in names():
        for path in (STAGES / name).rglob("*.py"):
            for mod in _imports(path):
                parts = mod.split(".")
                if parts[:2] == ["curation", "stages"] and len(parts) > 2 and parts[2] != name:
                    offenders.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert not offenders, "\n".join(offenders)


def test_every_stage_folder_has_a_stage_and_the_registry_finds_it():
    from curation.stages import ORDER, config_sections, get_stage, names

    assert names()[: len(ORDER)] == ORDER
    for name in names():
        assert get_stage(name).name == name
        if name in config_sections():
            assert get_stage(name).Config is config_sections()[name]


def test_loading_a_config_imports_no_stage_code():
    code = ("import sys; from curation.config import load_config; load_config(None); "
            "bad = [m for m in sys.modules if m.startswith('curation.stages.') and m.endswith('.stage')]; "
            "assert not bad, bad; assert 'pyspark' not in sys.modules")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_generated_files_match_the_registries():
    """schemas/signals/annotate.json and docs/CONFIG.md: run scripts/generate.py after adding a rule or a key."""
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "generate.py"), "--check"], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_rule_columns_are_declared_by_the_rule_sets():
    from curation.stages.annotate.rules import rulesets
    from curation.stages.annotate.stage import signal_fields

    declared = {f.name for f in signal_fields()}
    for rs in rulesets().values():
        assert {c for c, _ in rs.columns()} <= declared


def test_a_transform_cannot_emit_an_undeclared_column():
    from curation.engine.batches import check_declared

    declared = pa.schema([("doc_id", pa.string()), ("text", pa.string())])
    check_declared(pa.schema([("doc_id", pa.string())]), declared)
    with pytest.raises(ValueError, match="undeclared columns \\['extra'\\]"):
        check_declared(pa.schema([("doc_id", pa.string()), ("extra", pa.float64())]), declared)


def test_register_rejects_a_rule_set_whose_limits_name_missing_config_fields():
    from dataclasses import dataclass

    from curation.stages.annotate.rules import Rule, RuleSet, register

    @dataclass
    class Cfg:
        mode: str = "drop"

    class Broken(RuleSet):
        name = "broken_example"
        Config = Cfg
        rules = (Rule("x", "a value", "min_x", None),)

    with pytest.raises(ValueError, match="min_x"):
        register(Broken)


def test_the_import_graph_of_the_package_has_no_cycles():
    """Function-level imports count too: a cycle means two modules that cannot be understood apart."""
    mods = {}
    for p in (ROOT / "curation").rglob("*.py"):
        name = ".".join(p.relative_to(ROOT).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = p

    def owner(m: str) -> str:
        while m and m not in mods:
            m = m.rpartition(".")[0]
        return m

    graph = {m: {owner(t) for t in _imports(p) if t.startswith("curation")} - {"", m} for m, p in mods.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        state[m] = 2
        path.pop()
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            pytest.fail(" -> ".join(cycle))


def test_bundled_files_are_read_from_the_zip_that_spark_submit_ships(tmp_path):
    """From dist/curation.zip alone (no source tree, no installed package), every bundled file loads: the
    router and quality models, the prompt templates, the schemas and the log4j config (docs/ARCHITECTURE.md)."""
    import sysconfig

    zip_path = tmp_path / "curation.zip"
    subprocess.run(["bash", str(ROOT / "scripts" / "build_pyfiles.sh"), str(zip_path)], check=True, capture_output=True)
    code = (
        "import curation, sys; assert curation.__file__.startswith(sys.argv[1]), curation.__file__\n"
        "from curation.stages.ingest.pdf.predictor import load_model; assert load_model().parsers\n"
        "from curation.stages.annotate.config import default_quality_model\n"
        "from curation.text.classifier import FastTextScorer\n"
        "print(FastTextScorer(default_quality_model()).predict(['A plain sentence about the history of science.'])[0])\n"
        "from curation.stages.rewrite.prompts import load_template; assert load_template('rewire').id.startswith('rewire-v')\n"
        "from curation import schema, resources; assert schema.SCHEMA_DIR.joinpath('document.v1.json').is_file()\n"
        "assert resources.path('log4j2.properties').read_text().strip()\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{zip_path}:{sysconfig.get_paths()['purelib']}", "HOME": str(tmp_path)}
    res = subprocess.run([sys.executable, "-S", "-c", code, str(zip_path)], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert 0.0 <= float(res.stdout.strip()) <= 1.0
