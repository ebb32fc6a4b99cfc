"""Build ``checklist.json`` from the text of the disclosure form and its 別添 checklist.

Run by a developer when the form changes, never by the portal at runtime::

    python -m compliance.data.build_checklist FORM.txt > compliance/data/checklist.json

The item and note texts are kept verbatim (only markup is turned into plain text), so that the
dashboard and the exported checklist print exactly what the form says.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

# Section headings of the 別添 checklist, in order, and the keys the portal uses for them.
SECTIONS = [
    ("組織的安全管理対策", "organisational"),
    ("物理的安全対策", "physical"),
    ("技術的安全対策", "technical"),
    ("人的安全対策(従業者に対する人的安全管理措置)", "human_staff"),
    ("人的安全対策(事務取扱委託業者の監督及び守秘義務契約)", "human_contractor"),
    ("情報の破棄", "disposal"),
    ("医療情報システムの改造と保守", "maintenance"),
    ("情報及び情報機器の持ち出しについて", "takeout"),
    ("災害、サイバー攻撃等の非常時の対応", "emergency"),
    ("外部と個人情報を含む医療情報を交換する場合の安全管理", "exchange"),
]

_ITEM = re.compile(r"^(\d+)\.\t(.*)\t[■□]\t[■□]\(.*\)\s*$")
_CHECKLIST_NOTE = re.compile(r"^注\s*(\d+)\s*[:：]\s*(.*)$")
_FORM_NOTE = re.compile(r"^注(\d+)\)\s*(.*)$")
_SUPERSCRIPT = re.compile(r"\s*\^\{([^}]*)\}")
_TAG = re.compile(r"<[^>]+>")
_LIST = re.compile(r"<ul[^>]*>(.*?)(?:</ul>|$)", re.S)  # the source never closes its lists
_LETTERED = re.compile(r"\s\(([a-z])\)\s")


def plain(text: str) -> str:
    """Markup of the source → plain text: list items become lines starting with ・."""
    text = _SUPERSCRIPT.sub(lambda m: f" {m.group(1)}", text)
    text = _LIST.sub(lambda m: "\n" + re.sub(r"\s+・", "\n・", m.group(1)) + "\n", text)
    text = _LETTERED.sub(r"\n(\1) ", text)
    text = _TAG.sub("", text)
    text = re.sub(r"・[ \t]+", "・", text)
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def parse(source: str) -> dict[str, Any]:
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("別添"))
    form_notes = []
    for line in lines[:start]:
        match = _FORM_NOTE.match(line.strip())
        if match:
            form_notes.append({"no": int(match.group(1)), "text": plain(match.group(2))})

    titles = dict(SECTIONS)
    sections: list[dict[str, Any]] = []
    preamble: list[str] = []
    current: dict[str, Any] | None = None
    for raw in lines[start + 1 :]:
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith(("No\t", "---")):
            continue
        if stripped in titles:
            current = {"key": titles[stripped], "title": stripped, "items": [], "notes": []}
            sections.append(current)
            continue
        if current is None:
            if not stripped.startswith("更新情報"):
                preamble.append(stripped)
            continue
        item = _ITEM.match(line)
        if item:
            no = int(item.group(1))
            current["items"].append({"code": f"{current['key']}-{no:02d}", "no": no, "text": plain(item.group(2))})
            continue
        note = _CHECKLIST_NOTE.match(stripped)
        if note:
            current["notes"].append({"no": int(note.group(1)), "text": plain(note.group(2))})
            continue
        if stripped.startswith("*"):
            continue
        raise ValueError(f"unrecognised line in section {current['title']}: {stripped[:60]}")

    if [s["key"] for s in sections] != [key for _title, key in SECTIONS]:
        raise ValueError("the checklist sections are not the expected ones")
    for section in sections:
        numbers = [item["no"] for item in section["items"]]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"items of {section['title']} are not numbered 1..n: {numbers}")
    return {
        "title": lines[start].strip(),
        "preamble": [line for line in preamble if not line.startswith("*")],
        "instructions": [line.lstrip("*") for line in preamble if line.startswith("*")],
        "sections": sections,
        "disclosure_notes": form_notes,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write(__doc__ or "")
        return 2
    data = parse(Path(argv[1]).read_text(encoding="utf-8"))
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
