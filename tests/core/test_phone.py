import pytest

from core.config_auth import PhoneValidation
from core.phone import InvalidPhoneNumber, mask_phone, normalise_phone


def strict(raw: str, country: str = "CM") -> str:
    return normalise_phone(raw, default_country=country, level=PhoneValidation.STRICT)


def lenient(raw: str, country: str = "CM") -> str:
    return normalise_phone(raw, default_country=country, level=PhoneValidation.LENIENT)


class TestStrict:
    @pytest.mark.parametrize(
        ("raw", "country", "expected"),
        [
            ("6 58 55 22 94", "CM", "+237658552294"),
            ("(+237) 658-55-22-94", "CM", "+237658552294"),
            ("00237658552294", "PG", "+237658552294"),
            ("+237658552294", "PG", "+237658552294"),
            ("237658552294", "CM", "+237658552294"),
            ("7123 4567", "PG", "+67571234567"),
            ("06 12 34 56 78", "FR", "+33612345678"),
        ],
    )
    def test_national_and_international_input_become_e164(self, raw, country, expected):
        assert strict(raw, country) == expected

    def test_a_landline_is_refused_because_codes_go_by_sms(self):
        with pytest.raises(InvalidPhoneNumber, match="not a mobile number"):
            strict("2 22 23 45 67")

    @pytest.mark.parametrize("raw", ["675799743", "1234567890", "33123456789"])
    def test_the_original_spec_examples_are_not_valid_mobiles(self, raw):
        with pytest.raises(InvalidPhoneNumber, match="not a valid phone number|not a mobile"):
            strict(raw, "PG")

    @pytest.mark.parametrize(
        ("raw", "message"),
        [("", "empty"), ("12ab34", "only digits"), ("+1 234", "not a valid phone number")],
    )
    def test_bad_input_says_what_is_wrong(self, raw, message):
        with pytest.raises(InvalidPhoneNumber, match=message):
            strict(raw)


class TestLenient:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("675799743", "+675799743"),
            ("+237658552294", "+237658552294"),
            ("1234567890", "+11234567890"),
            ("33123456789", "+33123456789"),
            ("0033 1 23 45 67 89", "+33123456789"),
        ],
    )
    def test_the_original_spec_examples(self, raw, expected):
        assert lenient(raw) == expected

    @pytest.mark.parametrize("raw", ["12345678", "1234567890123456"])
    def test_digit_count_outside_9_to_15_is_refused(self, raw):
        with pytest.raises(InvalidPhoneNumber, match="9 to 15 digits"):
            lenient(raw)


class TestMaskPhone:
    def test_country_code_and_last_four_digits_remain(self):
        assert mask_phone("+67571234567") == "+675****4567"
        assert mask_phone("+237658552294") == "+237****2294"

    def test_a_short_string_keeps_almost_nothing(self):
        assert mask_phone("+12345") == "+1****"
