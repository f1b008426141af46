"""Module wiring check for the Bicep in infra/ (run by infra/check.sh with pycep-parser).

Without a Bicep compiler nothing else notices a module called with a parameter it does not declare, a
required parameter left out, `<module>.outputs.<name>` naming an output the module does not have, a
loadJsonContent/loadTextContent path that does not exist, or a file of infra/monitoring/ (saved query,
workbook, Sentinel rule) that no Bicep file loads, so it would silently not be deployed. This script parses
every .bicep file and checks those five things. Usage: python check_wiring.py FILE.bicep...
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from pycep import BicepParser

_parser = BicepParser()
_cache: dict[Path, dict[str, Any]] = {}

INFRA = Path(__file__).resolve().parents[1]
# The content under infra/monitoring/ that monitoring-content.bicep must load, file by file.
MONITORING_CONTENT = ("queries/*.kql", "workbook.json", "analytics-rules/*.json")
# loadTextContent('path') / loadJsonContent('path', '$.jsonPath', 'encoding'): the literal path.
LOAD = re.compile(r"load(?:Json|Text|FileAsBase64)Content\(\s*'([^']+)'")


def loads(path: Path) -> list[str]:
    """The paths a Bicep file loads, as written (relative to the file), comments left out."""
    code = "\n".join(line.split("//", 1)[0] for line in path.read_text(encoding="utf-8").splitlines())
    return LOAD.findall(code)


def parse(path: Path) -> dict[str, Any]:
    path = path.resolve()
    if path not in _cache:
        _cache[path] = _parser.parse(file_path=path)
    return _cache[path]


def check(path: Path) -> list[str]:
    problems: list[str] = []
    document = parse(path)
    text = path.read_text(encoding="utf-8")
    for load in loads(path):
        if not (path.parent / load).is_file():
            hint = " (run python -m warden.generate all first?)" if "generated/" in load else ""
            problems.append(f"{path}: {load} does not exist{hint}")
    for name, module in (document.get("modules") or {}).items():
        detail = module.get("detail", {})
        if module.get("type") != "local":
            continue
        target = (path.parent / detail["path"]).resolve()
        if not target.exists():
            problems.append(f"{path}: module {name} points at missing {detail['path']}")
            continue
        declared = parse(target).get("parameters") or {}
        outputs = parse(target).get("outputs") or {}
        config = module.get("config") or {}
        while "params" not in config and isinstance(config.get("config"), dict):
            config = config["config"]  # conditional (`= if`) and loop (`= [for`) modules nest their body
        passed = config.get("params") or {}
        for param in passed:
            if param not in declared:
                problems.append(f"{path}: module {name} passes {param}, which {target.name} does not declare")
        for param, spec in declared.items():
            if spec.get("default") is None and param not in passed:
                problems.append(f"{path}: module {name} leaves out required parameter {param} of {target.name}")
        for output in set(re.findall(rf"\b{re.escape(name)}\.outputs\.(\w+)", text)):
            if output not in outputs:
                problems.append(f"{path}: {name}.outputs.{output} is not an output of {target.name}")
    return problems


def unloaded_monitoring_content(paths: list[Path]) -> list[str]:
    loaded = {(path.parent / load).resolve() for path in paths for load in loads(path)}
    monitoring = INFRA / "monitoring"
    return [f"infra/monitoring/{content.relative_to(monitoring).as_posix()} is loaded by no Bicep file, so it is "
            f"not deployed: list it in infra/modules/monitoring-content.bicep"
            for pattern in MONITORING_CONTENT for content in sorted(monitoring.glob(pattern))
            if content.resolve() not in loaded]


def main(paths: list[str]) -> int:
    problems = [problem for name in paths for problem in check(Path(name))]
    problems += unloaded_monitoring_content([Path(name) for name in paths])
    for problem in problems:
        print(f"WIRING {problem}")
    print(f"wiring checked in {len(paths)} Bicep files: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
