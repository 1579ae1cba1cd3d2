"""The production image (Dockerfile) carries every module the origin is made of."""

import re
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def test_the_dockerfile_copies_every_module_and_the_config():
    copied = set()
    for line in (HERE / "Dockerfile").read_text().splitlines():
        m = re.match(r"COPY\s+(.+)\s+\S+$", line)
        if m:
            copied.update(m.group(1).split())
    modules = {p.name for p in HERE.glob("*.py")}
    assert modules and modules | {"thumbor.conf", "requirements.txt"} <= copied, sorted(modules - copied)
