"""Synthetic insurers, institutions and contracts (or the real ones, handed in by the caller)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from random import Random

from kenshin.checkdigits import luhn_digit
from kenshin.codes import CommissionType, CopayCode, DetailItem
from kenshin.copay import ContractTerms, CopayRule
from kenshin.synth import kana

# 追加健診項目 commonly offered on top of the basic checkup, with a typical price.
OTHER_ITEMS = {
    "3C020000002327101": 400,  # 血清尿酸
    "3F050000002327101": 300,  # 総コレステロール
    "3B070000002327101": 300,  # ALP
    "3A010000002327101": 300,  # 総蛋白
}
_INSURER_KINDS = (
    ("01", "全国健康保険協会{pref}支部"),
    ("06", "{place}健康保険組合"),
    ("31", "{place}共済組合"),
    ("00", "{place}市国民健康保険"),
)
_INSTITUTION_KINDS = ("健診センター", "クリニック", "病院", "内科医院", "総合健診センター")


def with_check_digit(body: str) -> str:
    return body + str(luhn_digit(body))


def break_check_digit(number: str) -> str:
    """The same number with a wrong last digit."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


@dataclass(frozen=True)
class SynthInsurer:
    number: str
    name: str


@dataclass(frozen=True)
class SynthInstitution:
    number: str
    name: str
    postal_code: str | None
    address: str | None
    telephone: str | None


@dataclass(frozen=True)
class SynthContract:
    insurer_number: str
    institution_number: str
    valid_from: date
    valid_to: date | None
    terms: ContractTerms


@dataclass(frozen=True)
class Parties:
    insurers: tuple[SynthInsurer, ...]
    institutions: tuple[SynthInstitution, ...]
    contracts: tuple[SynthContract, ...]

    def contracts_for(self, institution_number: str) -> list[SynthContract]:
        return [c for c in self.contracts if c.institution_number == institution_number]

    def insurers_without_contract(self, institution_number: str) -> list[SynthInsurer]:
        contracted = {c.insurer_number for c in self.contracts_for(institution_number)}
        return [insurer for insurer in self.insurers if insurer.number not in contracted]

    @property
    def insurer_numbers(self) -> frozenset[str]:
        return frozenset(insurer.number for insurer in self.insurers)


def insurer_number(rng: Random, kind: str, prefecture: str) -> str:
    if kind == "00":
        return "00" + with_check_digit(f"{prefecture}{rng.randint(1, 999):03d}")
    return with_check_digit(f"{kind}{prefecture}{rng.randint(1, 999):03d}")


def institution_number(rng: Random, prefecture: str) -> str:
    return with_check_digit(f"{prefecture}1{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}")


def _copay(rng: Random, *, basic: bool) -> CopayRule:
    roll = rng.random()
    if roll < 0.35:
        return CopayRule(CopayCode.NONE)
    if roll < 0.65:
        return CopayRule(CopayCode.FIXED, amount=rng.choice((500, 1000, 1500) if basic else (300, 500)))
    if roll < 0.92:
        return CopayRule(CopayCode.RATE, rate=rng.choice((10_000, 20_000, 30_000)))
    cap = rng.choice((5000, 6000, 7000)) if basic else rng.choice((500, 1000))
    if rng.random() < 0.5:
        return CopayRule(CopayCode.INSURER_CAP, cap=cap)
    return CopayRule(CopayCode.RATE, rate=30_000, cap=cap)


def contract_terms(rng: Random) -> ContractTerms:
    return ContractTerms(
        commission_type=rng.choice((CommissionType.INDIVIDUAL, CommissionType.INDIVIDUAL, CommissionType.GROUP)),
        basic_price=rng.randrange(7000, 12001, 100),
        basic_copay=_copay(rng, basic=True),
        detail_prices={
            DetailItem.ANEMIA: rng.randrange(800, 1501, 100),
            DetailItem.ECG: rng.randrange(1200, 2001, 100),
            DetailItem.FUNDUS: rng.randrange(1000, 1801, 100),
            DetailItem.CREATININE: rng.randrange(300, 801, 100),
        },
        detail_copay=_copay(rng, basic=False),
        other_prices={code: price + rng.randrange(0, 301, 100) for code, price in OTHER_ITEMS.items()},
        other_copay=_copay(rng, basic=False),
    )


def make_parties(rng: Random, *, institutions: int, insurers: int, year: int) -> Parties:
    """Synthetic parties; each institution contracts with all insurers but one (when there are
    several), so that a record without a contract can be produced on purpose."""
    made_insurers: dict[str, SynthInsurer] = {}
    while len(made_insurers) < insurers:
        kind, pattern = rng.choice(_INSURER_KINDS)
        pref_code, pref_name, _ = rng.choice(kana.PREFECTURES)
        number = insurer_number(rng, kind, pref_code)
        place = rng.choice(kana.PLACE_WORDS)
        branch = pref_name.rstrip("都府県") if pref_name != "北海道" else pref_name
        made_insurers.setdefault(number, SynthInsurer(number, pattern.format(pref=branch, place=place)))
    made_institutions: dict[str, SynthInstitution] = {}
    while len(made_institutions) < institutions:
        prefecture = rng.choice(kana.PREFECTURES)
        number = institution_number(rng, prefecture[0])
        postal_code, address = kana.address(rng, prefecture)
        name = f"{rng.choice(kana.PLACE_WORDS)}{rng.choice(_INSTITUTION_KINDS)}"
        made_institutions.setdefault(number, SynthInstitution(number, name, postal_code, address, kana.telephone(rng)))
    return Parties(
        insurers=tuple(made_insurers.values()),
        institutions=tuple(made_institutions.values()),
        contracts=tuple(_contracts(rng, list(made_insurers.values()), list(made_institutions.values()), year)),
    )


def _contracts(
    rng: Random, insurers: Sequence[SynthInsurer], institutions: Sequence[SynthInstitution], year: int
) -> list[SynthContract]:
    contracts = []
    for institution in institutions:
        chosen = list(insurers)
        if len(chosen) > 1:
            chosen.pop(rng.randrange(len(chosen)))
        for insurer in chosen:
            contracts.append(
                SynthContract(
                    insurer_number=insurer.number,
                    institution_number=institution.number,
                    valid_from=date(year, 4, 1),
                    valid_to=rng.choice((None, date(year + 1, 3, 31))),
                    terms=contract_terms(rng),
                )
            )
    return contracts
