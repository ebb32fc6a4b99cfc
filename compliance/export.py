"""The checklist in the 別添 form: the rows to print, as text (the form's own tab layout) and as PDF."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from .checklist import checklist
from .selectors import ItemState, checklist_last_updated, item_states, summary

CHECKED, UNCHECKED = "■", "□"


def japanese_date(day: dt.date | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


@dataclass(frozen=True)
class Row:
    no: int
    text: str
    done: bool
    planned: str  # what goes between the brackets of 実施予定( )

    @property
    def done_mark(self) -> str:
        return CHECKED if self.done else UNCHECKED

    @property
    def planned_mark(self) -> str:
        return UNCHECKED if self.done else CHECKED


@dataclass(frozen=True)
class SectionRows:
    title: str
    rows: list[Row]
    notes: tuple[tuple[int, str], ...]


def _row(state: ItemState) -> Row:
    planned = "" if state.done else (japanese_date(state.planned_date) or "未定")
    return Row(state.item.no, state.item.text, state.done, planned)


def form_context(*, now: dt.datetime | None = None) -> dict[str, Any]:
    states = {s.code: s for s in item_states(now=now)}
    form = checklist()
    sections = [
        SectionRows(section.title, [_row(states[item.code]) for item in section.items], section.notes)
        for section in form.sections
    ]
    updated = checklist_last_updated()
    return {
        "form": form,
        "sections": sections,
        "summary": summary(list(states.values())),
        "last_updated": timezone.localtime(updated).date() if updated else None,
        "last_updated_text": japanese_date(timezone.localtime(updated).date()) if updated else "",
    }


def as_text(context: Mapping[str, Any]) -> str:
    form = context["form"]
    lines = [form.title, ""]
    lines += [*form.preamble, ""]
    instructions = list(form.instructions)
    after = [i for i in instructions if i.startswith("下記事項に変更")]
    lines += [f"*{i}" for i in instructions if i not in after]
    lines += ["", f"更新情報\t最終更新日\t{context['last_updated_text'] or '未更新'}", ""]
    lines += [*(f"*{i}" for i in after), ""]
    for section in context["sections"]:
        lines += [section.title, "", "No\tチェック項目\t実施済\t実施予定(実施時期)"]
        for row in section.rows:
            text = " ".join(row.text.splitlines())
            lines.append(f"{row.no}.\t{text}\t{row.done_mark}\t{row.planned_mark}({row.planned})")
        if section.notes:
            lines.append("")
            lines += [f"注{no}:{text}" for no, text in section.notes]
        lines.append("")
    return "\n".join(lines)
