"""Write → read gives back equal records (property tests over generated documents and claims)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kenshin.assemble import agency_party, build_submission, institution_party
from kenshin.codes import OID_CHECKUP_TICKET, OID_GUIDANCE_TICKET, OID_INPUT_RANGE_FLAG, Namespace
from kenshin.naming import ArchiveName, MemberName
from kenshin.reader import read_archive
from kenshin.records import (
    AdjudicationResult,
    Charges,
    ChargeType,
    CheckupDocument,
    Claim,
    DetailPrice,
    DockCharge,
    DocumentHeader,
    GuidanceClaim,
    GuidanceDocument,
    Member,
    Observation,
    Organization,
    OtherPrice,
    Relationship,
    Section,
    Settlement,
    Subject,
    Submission,
    Ticket,
)
from kenshin.writer import write_archive

_ALPHABET = st.characters(blacklist_categories=("Cs", "Cc", "Cn", "Co"))
words = st.text(_ALPHABET, min_size=1, max_size=12).map(str.strip).filter(bool)
codes = st.text("0123456789ABCDEFGHNZ", min_size=1, max_size=17)
digits = st.text("0123456789", min_size=1, max_size=10)
dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))
optional_words = st.none() | words


def _observations(depth: int) -> st.SearchStrategy[Observation]:
    common = {
        "code": st.none() | codes,
        "negation": st.booleans(),
        "interpretation": st.none() | st.sampled_from(["L", "N", "H"]),
        "method_code": st.none() | codes,
        "display_name": optional_words,
        "code_null_flavor": st.none() | st.just("NA"),
        "input_range_flag": st.none() | st.sampled_from(["H", "L"]),
        "author_name": optional_words,
    }
    flavor = st.none() | st.just("NI")
    relationships = (
        st.lists(st.builds(Relationship, st.sampled_from(["COMP", "RSON"]), _observations(depth - 1)), max_size=3).map(
            tuple
        )
        if depth > 0
        else st.just(())
    )
    measured = st.builds(
        Observation,
        xml_type=st.just("PQ"),
        value=st.none() | st.decimals(0, 99999, places=2).map(str),
        unit=st.none() | st.sampled_from(["cm", "mm[Hg]", "10*4/mm3", "mg/dL", "%"]),
        reference_low=st.none() | digits,
        reference_high=st.none() | digits,
        null_flavor=flavor,
        relationships=relationships,
        **common,
    )
    coded = st.builds(
        Observation,
        xml_type=st.sampled_from(["CD", "CO"]),
        answer_code=st.none() | digits,
        answer_oid=st.none() | st.sampled_from(["1.2.392.200119.6.2001", "1.2.392.200119.6.24060"]),
        null_flavor=flavor,
        relationships=relationships,
        **common,
    )
    textual = st.builds(
        Observation,
        xml_type=st.just("ST"),
        value=st.none() | words,
        null_flavor=flavor,
        relationships=relationships,
        **common,
    )
    bare = st.builds(Observation, xml_type=st.none(), relationships=relationships, **common)
    return st.one_of(measured, coded, textual, bare)


subjects = st.builds(
    Subject,
    insurer_number=digits,
    card_symbol=optional_words,
    card_number=words,
    card_branch=st.none() | st.text("0123456789", min_size=2, max_size=2),
    name_kana=words,
    sex=st.sampled_from(["1", "2"]),
    birth_date=dates,
    postal_code=st.from_regex(r"\A[0-9]{3}-[0-9]{4}\Z"),
    address=st.just("") | words,
)
organizations = st.builds(
    Organization,
    number=digits,
    name=st.just("") | words,
    telephone=optional_words,
    postal_code=st.none() | st.from_regex(r"\A[0-9]{3}-[0-9]{4}\Z"),
    address=optional_words,
)
tickets = st.builds(
    Ticket,
    number=digits,
    expires_on=st.none() | dates,
    insurer_number=digits,
    kind=st.sampled_from(["1", "2"]),
    base_oid=st.sampled_from([OID_CHECKUP_TICKET, OID_GUIDANCE_TICKET]),
)
headers = st.builds(
    DocumentHeader,
    report_category=st.sampled_from(["10", "40"]),
    created_on=dates,
    subject=subjects,
    author=organizations,
    tickets=st.lists(tickets, max_size=2).map(tuple),
    program_code=st.none() | st.just("010"),
    service_date=st.none() | dates,
    performer=st.none() | organizations,
)
documents = st.builds(
    CheckupDocument,
    header=headers,
    sections=st.lists(
        st.builds(
            Section,
            code=st.sampled_from(["01010", "01990"]),
            title=optional_words,
            observations=st.lists(_observations(2), max_size=6).map(tuple),
        ),
        min_size=1,
        max_size=2,
    ).map(tuple),
)
six = st.integers(0, 999_999)
totals = st.integers(0, 99_999_999)  # three claims still sum below the nine-digit su08 limit
charges = st.one_of(
    st.builds(ChargeType, code=st.sampled_from(["1", "2", "3", "4"])),
    st.builds(ChargeType, code=st.sampled_from(["2", "4"]), amount=six),
    st.builds(ChargeType, code=st.just("3"), rate=six),
)
results = st.none() | st.builds(
    AdjudicationResult,
    interaction_type=st.sampled_from(["2", "7"]),
    recorded_on=dates,
    reason_code=st.none() | st.sampled_from(["01", "05", "09"]),
    reason_text=optional_words,
)
claims = st.builds(
    Claim,
    institution_number=digits,
    subject=subjects,
    ticket_number=st.none() | digits,
    ticket_expires_on=st.none() | dates,
    charges=st.builds(
        Charges,
        basic=st.none() | charges,
        detail=st.none() | charges,
        other=st.none() | charges,
        dock=st.none() | st.builds(DockCharge, st.none() | charges, st.none() | six),
    ),
    settlement=st.builds(
        Settlement,
        claim_type=st.sampled_from(["1", "2", "3", "4", "5"]),
        commission_type=st.sampled_from(["1", "2"]),
        unit_price_basic=st.none() | totals,
        unit_price_details=st.lists(
            st.builds(DetailPrice, st.sampled_from(["1", "2", "3", "4"]), totals), max_size=3
        ).map(tuple),
        unit_price_others=st.lists(st.builds(OtherPrice, totals, st.none() | codes), max_size=3).map(tuple),
        payment_basic=st.none() | six,
        payment_detail=st.none() | six,
        payment_other=st.none() | six,
        unit_amount=totals,
        payment_amount=totals,
        payment_by_other_program=st.none() | totals,
        claim_amount=totals,
    ),
    service_event_type=st.just("1"),
    agency_result=results,
    insurer_result=results,
    namespace=st.sampled_from(list(Namespace)),
)


def _submission(pairs: list[tuple[CheckupDocument, Claim | None]]) -> Submission:
    name = ArchiveName("2813300114", "91399055", date(2024, 6, 1), 0, "1")
    checkups, claim_members = [], []
    for serial, (document, claim) in enumerate(pairs, start=1):
        member = MemberName("h", "2813300114", date(2024, 6, 1), 0, "1", serial)
        checkups.append(Member(member.path, document))
        if claim is not None:
            claim_members.append(Member(member.with_prefix("c").path, claim))
    return build_submission(
        name=name,
        interaction_type="1",
        sender=institution_party("2813300114"),
        receiver=agency_party("91399055"),
        checkups=checkups,
        claims=claim_members,
    )


_settings = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@_settings
@given(st.lists(st.tuples(documents, st.none() | claims), min_size=1, max_size=3))
def test_submissions_read_back_equal(pairs: list[tuple[CheckupDocument, Claim | None]]) -> None:
    submission = _submission(pairs)
    data = write_archive(submission)
    result = read_archive(data, filename=submission.name.filename, xsd_dir=None, master=None)
    assert result.submission() == submission
    generations = {report.path: report.generation for report in result.files}
    for member in submission.claims:
        assert generations[member.path] is member.record.namespace


@_settings
@given(documents)
def test_observation_flags_survive(document: CheckupDocument) -> None:
    observations = list(document.observations())
    assert all(o.answer_oid != OID_INPUT_RANGE_FLAG for o in observations)
    result = read_archive(write_archive(_submission([(document, None)])), xsd_dir=None, master=None)
    assert list(result.checkups[0].record.observations()) == observations


guidance_documents = st.builds(
    GuidanceDocument,
    header=headers.map(lambda header: replace(header, report_category="21")),
    sections=st.lists(st.sampled_from(["90010", "90020", "90040"]), min_size=1, max_size=3).map(
        lambda codes: tuple(Section(code, None, ()) for code in codes)
    ),
)
guidance_claims = st.builds(
    GuidanceClaim,
    service_event_type=st.just("2"),
    guidance_level=st.sampled_from(["1", "2", "3"]),
    guidance_timing=st.sampled_from(["1", "2", "3", "4", "5"]),
    institution_number=digits,
    subject=subjects.map(lambda subject: replace(subject, address="")),
    guidance_ticket_number=st.none() | digits,
    checkup_ticket_number=st.none() | digits,
    ticket_expires_on=st.none() | dates,
    copayment=st.none() | charges,
    max_insurance_limit=st.none() | six,
    unit_price=totals,
    payment_rate=st.integers(0, 100),
    points_completed=st.none() | st.integers(0, 9999),
    points_intended=st.none() | st.integers(0, 9999),
    calculated_amount=totals,
    payment_status=st.sampled_from(["1", "2"]),
    payment_amount=totals,
    claim_amount=totals,
    agency_result=results,
    insurer_result=results,
    namespace=st.sampled_from(list(Namespace)),
)


@_settings
@given(guidance_documents, guidance_claims)
def test_guidance_files_read_back_equal_at_header_level(document: GuidanceDocument, claim: GuidanceClaim) -> None:
    name = ArchiveName("2813300114", "91399055", date(2024, 6, 1), 0, "2")
    member = MemberName("g", "2813300114", date(2024, 6, 1), 0, "2", 1)
    submission = build_submission(
        name=name,
        interaction_type="1",
        sender=institution_party("2813300114"),
        receiver=agency_party("91399055"),
        guidance=[Member(member.path, document)],
        guidance_claims=[Member(member.with_prefix("p").path, claim)],
    )
    result = read_archive(write_archive(submission), filename=name.filename, xsd_dir=None, master=None)
    assert result.submission() == submission


@given(
    st.builds(
        ArchiveName,
        st.from_regex(r"\A([0-9]{8}|[0-9]{10})\Z"),
        st.from_regex(r"\A([0-9]{8}|[0-9]{10})\Z"),
        st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
        st.integers(0, 9),
        st.sampled_from(["1", "2"]),
    )
)
def test_archive_names_round_trip(name: ArchiveName) -> None:
    assert ArchiveName.parse(name.filename) == name
    assert ArchiveName.parse(name.stem) == name


def test_names_from_the_spec() -> None:
    name = ArchiveName.parse("6631111116_01130012_200901150_1.zip")
    assert name == ArchiveName("6631111116", "01130012", date(2009, 1, 15), 0, "1")
    assert ArchiveName.parse("2813303589_00280081_202405271_1") is not None
    for bad in (
        "2813303589_00280081_20240527_1.zip",
        "281330358_00280081_202405271_1.zip",
        "x.zip",
        "2813303589_00280081_202413011_1",
    ):
        assert ArchiveName.parse(bad) is None
    member = MemberName.parse("h28133035892024052701000001.xml")
    assert member == MemberName("h", "2813303589", date(2024, 5, 27), 0, "1", 1)
    assert member.with_prefix("c").path == "CLAIMS/c28133035892024052701000001.xml"
    assert MemberName.parse("h28133035892024052701_0059_00280081.xml") is None
