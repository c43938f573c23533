"""benchmarks/RESULTS.md: each benchmark script rewrites its own section.

A section is the text from its ``## <title>`` heading to the next ``## ``
heading. If it holds a ``<!-- measured -->`` ... ``<!-- /measured -->``
block, only that block is rewritten, so prose written around the figures
survives; otherwise the whole section body is. The file is written
atomically (era_zoo.atomic): an interrupted run leaves the old file whole.
"""
import argparse
import re
from pathlib import Path

from era_zoo.atomic import write_text

RESULTS = Path(__file__).with_name("RESULTS.md")
OPEN, CLOSE = "<!-- measured -->", "<!-- /measured -->"


def write_section(title_prefix, body, results=RESULTS):
    """Put ``body`` (Markdown) in the section of ``results`` whose heading
    starts with ``## <title_prefix>``; a missing section is appended as
    ``## <title_prefix> (benchmarks/<title_prefix>.py)``, after the script
    that measures it."""
    results = Path(results)
    text = results.read_text(encoding="utf-8")
    pattern = re.compile(rf"(^## {re.escape(title_prefix)}\b[^\n]*\n)(.*?)(?=^## |\Z)",
                         re.M | re.S)
    if not pattern.search(text):
        text = text.rstrip("\n") + f"\n\n## {title_prefix} (benchmarks/{title_prefix}.py)\n"

    def replace(match):
        head, section = match.groups()
        if OPEN in section and CLOSE in section:
            before, rest = section.split(OPEN, 1)
            after = rest.split(CLOSE, 1)[1]
            return f"{head}{before}{OPEN}\n{body}\n{CLOSE}{after}"
        return f"{head}\n{body}\n\n"

    write_text(results, pattern.sub(replace, text, count=1))


def clips_parser(doc, clips, rounds):
    """The command line of a benchmark over generated clips: ``--clips``,
    ``--seconds``, ``--rounds`` and ``--write`` (its section of RESULTS.md)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=clips)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    return parser
