"""Validators: GB 11643 ID numbers, ISO 3779 / GB 16735 VINs, confusion correction, dates, confidence."""

from __future__ import annotations

import random

import pytest

from picloss.domain.documents.dates import normalize_date, normalize_period
from picloss.domain.documents.idnumber import check_id_number, id_check_char, is_valid_id_number
from picloss.domain.documents.model import FieldRead
from picloss.domain.documents.validators import FAILED_CAP, validate_field, validate_fields
from picloss.domain.documents.vin import VIN_ALPHABET, check_vin, is_valid_vin, vin_check_digit

# Published examples: GB 11643-1999 annex and the Wikipedia VIN check-digit example.
PUBLISHED_IDS = ["11010519491231002X", "440524188001010014"]
PUBLISHED_VINS = ["1M8GDM9AXKP042788", "11111111111111111"]


def _random_id(rng: random.Random) -> str:
    region = f"{rng.choice(['11', '31', '44', '51', '65'])}{rng.randrange(10**4):04d}"
    birth = f"{rng.randrange(1950, 2005)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    first17 = f"{region}{birth}{rng.randrange(1000):03d}"
    return first17 + id_check_char(first17)


def _random_vin(rng: random.Random) -> str:
    body = [rng.choice(VIN_ALPHABET) for _ in range(17)]
    body[8] = "0"
    vin = "".join(body)
    return vin[:8] + vin_check_digit(vin) + vin[9:]


@pytest.mark.parametrize("number", PUBLISHED_IDS)
def test_published_id_numbers_are_valid(number: str) -> None:
    assert is_valid_id_number(number)


@pytest.mark.parametrize("number", [
    "110105194912310021",  # wrong check character
    "99010519491231002X",  # no province 99
    "110105194913310028",  # month 13
    "11010519491231002",   # 17 characters
    "1101051949123100XX",  # X inside
])
def test_bad_id_numbers_are_rejected(number: str) -> None:
    assert not is_valid_id_number(number)


def test_generated_id_numbers_validate_and_any_digit_change_is_caught_or_rare() -> None:
    rng = random.Random(7)
    for _ in range(200):
        number = _random_id(rng)
        assert is_valid_id_number(number)
        pos = rng.randrange(17)
        wrong = number[:pos] + str((int(number[pos]) + 1) % 10) + number[pos + 1:]
        assert not check_id_number(wrong).valid or wrong[6:14] != number[6:14] or pos >= 14


def test_id_confusions_are_corrected() -> None:
    check = check_id_number("11O1O5I949123IOO2x")
    assert check == check.__class__("11010519491231002X", True, True)


@pytest.mark.parametrize("vin", PUBLISHED_VINS)
def test_published_vins_are_valid(vin: str) -> None:
    assert is_valid_vin(vin)


@pytest.mark.parametrize("vin", [
    "1M8GDM9A1KP042788",   # wrong check digit
    "1M8GDM9AXKP04278",    # 16 characters
    "1M8GDM9AXKPO42788",   # contains O (not valid as-is)
    "XTA219070J0495272",   # a real Russian VIN without a GB 16735 check digit
])
def test_bad_vins_are_rejected(vin: str) -> None:
    assert not is_valid_vin(vin)


def test_vin_confusion_is_corrected_only_where_read_unsure() -> None:
    # Issue 10: free substitutions invent VINs; a character may change only where the recogniser was unsure.
    unsure_last = (0.99,) * 16 + (0.55,)
    check = check_vin("1M8GDM9AXKP04278B", unsure_last)  # 8 read as B, at low confidence
    assert check.valid and check.corrected and check.value == "1M8GDM9AXKP042788"
    assert not check_vin("1M8GDM9AXKP04278B").valid  # no character scores: no free substitution
    assert not check_vin("1M8GDM9AXKP04278B", (0.99,) * 17).valid  # read confidently: left alone
    read = FieldRead("vin", "1M8GDM9AXKP04278B", 0.99, char_scores=unsure_last)
    assert validate_field(read).confidence <= 0.8
    assert check_vin("1M8GDM9AXKPO42788").value == "1M8GDM9AXKP042788"  # O is never in a VIN: forced


def test_vin_correction_refuses_when_ambiguous_or_none() -> None:
    rng = random.Random(3)
    ambiguous = corrected = 0
    for _ in range(300):
        vin = "L" + _random_vin(rng)[1:]
        vin = vin[:8] + vin_check_digit(vin) + vin[9:]
        vin = vin[:13] + "".join(rng.choice("0123456789") for _ in range(4))
        vin = vin[:8] + vin_check_digit(vin) + vin[9:]
        assert is_valid_vin(vin)
        wrong = vin[:8] + ("5" if vin[8] != "5" else "6") + vin[9:]
        check = check_vin(wrong, (0.5,) * 17)  # every character unsure: every single confusion is tried
        if check.valid:
            corrected += 1  # a correction is only returned when it is the single valid candidate
            assert check.corrected and is_valid_vin(check.value)
            assert sum(a != b for a, b in zip(check.value, wrong, strict=True)) == 1
        else:
            ambiguous += 1
            assert not check.corrected
    assert ambiguous > 0 and corrected > 0


def test_failed_value_gets_low_confidence_and_valid_keeps_it() -> None:
    plain = "LCEFGHJK0MNPR4679"  # a Chinese VIN (check digit mandatory), no confusable character
    right = plain[:8] + vin_check_digit(plain) + plain[9:]
    wrong = right[:8] + ("3" if right[8] != "3" else "4") + right[9:]
    bad = validate_field(FieldRead("vin", wrong, 0.99))
    good = validate_field(FieldRead("vin", "1M8GDM9AXKP042788", 0.99))
    assert not bad.validated and bad.confidence <= FAILED_CAP
    assert good.validated and good.confidence == pytest.approx(0.99)


@pytest.mark.parametrize(("raw", "expected"), [
    ("1990年1月2日", "1990-01-02"), ("19900102", "1990-01-02"), ("1990.01.02", "1990-01-02"),
    ("1990-1-2", "1990-01-02"), ("1990年13月2日", None),
])
def test_dates_are_normalised(raw: str, expected: str | None) -> None:
    assert normalize_date(raw) == expected


def test_periods_are_normalised_and_checked() -> None:
    assert normalize_period("2015.03.01-2035.03.01", "idcard") == ("2015.03.01-2035.03.01", True)
    assert normalize_period("2015.03.01-长期", "idcard") == ("2015.03.01-长期", True)
    assert normalize_period("2015.03.01-2036.03.01", "idcard") == ("2015.03.01-2036.03.01", False)
    assert normalize_period("2015-03-01 至 2021-03-01", "licence") == ("2015-03-01至2021-03-01", True)


def test_birth_and_sex_are_checked_against_a_valid_id_number_never_rewritten() -> None:
    fields = validate_fields([
        FieldRead("id", "11010519491231002X", 0.98),
        FieldRead("birth", "1949年12月31日", 0.8),
        FieldRead("sex", "男", 0.95),  # 17th digit 2 is even: female
    ])
    by_name = {f.name: f for f in fields}
    assert by_name["birth"].value == "1949-12-31" and not by_name["birth"].corrected
    assert by_name["birth"].confidence == pytest.approx(0.98)  # confirmed by the checksum-valid number
    assert by_name["sex"].value == "男" and not by_name["sex"].corrected  # the read stays what was read
    assert not by_name["sex"].validated and by_name["sex"].confidence <= FAILED_CAP


def test_nothing_is_added_from_the_id_number() -> None:
    # Issue 10: birth/sex derived from the number were reported although nobody read them.
    assert {f.name for f in validate_fields([FieldRead("证号", "11010519491231002X", 0.95)])} == {"证号"}
    assert {f.name for f in validate_fields([FieldRead("id", "11010519491231002X", 0.95)])} == {"id"}


def test_nation_plate_and_vehicle_class_rules() -> None:
    assert validate_field(FieldRead("nation", "汉", 0.9)).validated
    assert not validate_field(FieldRead("nation", "汊", 0.9)).validated
    assert validate_field(FieldRead("号牌号码", "京A12345", 0.9)).validated
    assert not validate_field(FieldRead("号牌号码", "A12345", 0.9)).validated
    assert validate_field(FieldRead("准驾车型", "C1", 0.9)).validated
