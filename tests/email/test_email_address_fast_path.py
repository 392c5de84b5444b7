"""check_address skips the email package's parser for plain addresses; both paths must agree."""

from hypothesis import given
from hypothesis import strategies as st

from sequence_cron.email.addresses import check_address, parsed_address_problem

# The characters of the fast path plus the ones that make it fall through to the parser.
ADDRESS_CHARACTERS = "ab9_+-.@ \"()<>[],;:\\é"


@given(st.text(alphabet=ADDRESS_CHARACTERS, min_size=1, max_size=30))
def test_fast_path_agrees_with_parser(text):
    assert check_address(text) == parsed_address_problem(text)


@given(
    st.from_regex(r"[A-Za-z0-9_+-]{1,70}(\.[A-Za-z0-9_+-]{1,5}){0,2}@[A-Za-z0-9-]{1,10}(\.[A-Za-z]{2,4}){0,2}", fullmatch=True)
)
def test_plain_addresses_agree_with_parser(address):
    assert check_address(address) == parsed_address_problem(address)


def test_long_plain_local_part_is_rejected():
    assert check_address("x" * 65 + "@example.com") == "local part longer than 64 characters"
