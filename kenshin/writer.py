"""Writing a submission archive in the standard layout.

`render_members` turns a `Submission` into ``{path inside the root folder: bytes}``; `pack`
zips such a mapping under the root folder (optionally AES-encrypted and with the official XSDs
copied from a directory), and `write_archive` does both. The writer writes what it is given:
use `assemble.build_submission` to get ix08 counts and su08 totals computed from the members.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import BinaryIO

import pyzipper

from kenshin.cda_write import checkup_xml, guidance_xml
from kenshin.claim_write import claim_xml, guidance_claim_xml, index_xml, summary_xml
from kenshin.naming import INDEX_FILE, SUMMARY_FILE, XSD_DIR
from kenshin.records import Submission
from kenshin.schemas import SCHEMA_FILES
from kenshin.zipwrite import DIRECTORY_MODE, FILE_MODE, build_zip

CORESCHEMAS = ("datatypes_hcgv08.xsd", "datatypes-base_hcgv08.xsd", "voc_hcgv08.xsd", "narrativeBlock_hcgv08.xsd")
OTHER_SCHEMAS = ("co08_V08.xsd",)


def render_members(submission: Submission) -> dict[str, bytes]:
    """Every XML file of the submission, by path inside the root folder, in archive order."""
    members: dict[str, bytes] = {INDEX_FILE: index_xml(submission.index)}
    if submission.summary is not None:
        members[SUMMARY_FILE] = summary_xml(submission.summary)
    for member in submission.checkups:
        members[member.path] = checkup_xml(member.record)
    for guidance in submission.guidance:
        members[guidance.path] = guidance_xml(guidance.record)
    for claim in submission.claims:
        members[claim.path] = claim_xml(claim.record)
    for guidance_claim in submission.guidance_claims:
        members[guidance_claim.path] = guidance_claim_xml(guidance_claim.record)
    return members


def xsd_member_names() -> list[str]:
    """Where the official schema files go in an archive (under XSD/, as the specification requires)."""
    names = [f"{XSD_DIR}/{name}" for name in [*sorted(set(SCHEMA_FILES.values())), *OTHER_SCHEMAS]]
    return names + [f"{XSD_DIR}/coreschemas/{name}" for name in CORESCHEMAS]


def xsd_members(xsd_dir: Path) -> dict[str, bytes]:
    """The official schema files, placed under XSD/ as the archive specification requires."""
    return {path: (xsd_dir / path.removeprefix(f"{XSD_DIR}/")).read_bytes() for path in xsd_member_names()}


def directories(root: str, members: Mapping[str, bytes]) -> list[str]:
    folders = {""}
    for path in members:
        parts = path.split("/")[:-1]
        folders.update("/".join(parts[: depth + 1]) for depth in range(len(parts)))
    ordered = sorted(folders, key=lambda folder: (folder.count("/"), folder))
    return [f"{root}/{folder}/" if folder else f"{root}/" for folder in ordered]


def pack(
    root: str,
    members: Mapping[str, bytes],
    *,
    created_on: date,
    password: str | bytes | None = None,
    compresslevel: int = 6,
) -> bytes:
    """Zip members under ``root/`` (with folder entries); AES-256 when a password is given."""
    entries = [(folder, b"") for folder in directories(root, members)]
    entries += [(f"{root}/{path}", data) for path, data in members.items()]
    if password is None:
        return build_zip(entries, stamp=created_on, compresslevel=compresslevel)
    buffer = io.BytesIO()
    stamp = (created_on.year, created_on.month, created_on.day, 0, 0, 0)
    with pyzipper.AESZipFile(buffer, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as archive:
        archive.setpassword(password.encode("utf-8") if isinstance(password, str) else password)
        for name, data in entries:
            info = archive.zipinfo_cls(name, stamp)
            info.external_attr = DIRECTORY_MODE if name.endswith("/") else FILE_MODE
            info.compress_type = pyzipper.ZIP_STORED if name.endswith("/") else pyzipper.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=compresslevel)
    return buffer.getvalue()


def write_archive(
    submission: Submission,
    target: Path | str | BinaryIO | None = None,
    *,
    xsd_dir: Path | str | None = None,
    password: str | bytes | None = None,
) -> bytes:
    """Write the archive; returns its bytes and also writes them to ``target`` when given.

    A directory target receives ``<archive name>.zip``.
    """
    members = render_members(submission)
    if xsd_dir is not None:
        members.update(xsd_members(Path(xsd_dir)))
    data = pack(submission.name.stem, members, created_on=submission.name.submitted_on, password=password)
    if isinstance(target, (str, Path)):
        path = Path(target)
        if path.is_dir():
            path = path / submission.name.filename
        path.write_bytes(data)
    elif target is not None:
        target.write(data)
    return data
