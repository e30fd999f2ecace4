"""Email addresses: which ones an account may have, how to hide one, how to find
them in free text. The one place these rules are written.

An account's address is ASCII. A non-ASCII one can look exactly like another
account's (a Cyrillic "a" U+0430 for a Latin "a", fullwidth letters), and
lower-casing can turn one into another's (the Kelvin sign U+212A lowers to "k");
a quoted local part (``"admin"@x.com``) is a second spelling of many addresses.
So such an address is refused wherever one is stored, and finds no account
where one is looked up (login, password reset).
"""

import re

MAX_LENGTH = 254  # RFC 5321: the longest address a forward path can carry
NOT_AN_ACCOUNT_ADDRESS = (
    "Not a valid email address: only ASCII characters, and no quoted local part."
)

# Anything shaped like an address, in any script, for scrubbing text that leaves
# the service (traces, error reports). Broader than what an account may hold on
# purpose: free text (a feedback message, a URL) may quote any address. A match
# may only start where a run of local-part characters starts (the lookbehind):
# without it, a long run with no "@" (a 100 KB query string) is scanned again
# from each of its characters, quadratic time in the span exporter's thread.
IN_TEXT = re.compile(r"(?<![\w.!#$%&'*+/=?^`{|}~-])[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


def is_account_address(address):
    """Whether ``address`` is one an account may have (its form aside, which the
    schema's email format checks): ASCII, and no quoted local part.

    Check it before lower-casing: ``str.lower`` maps some non-ASCII letters to
    ASCII ones.
    """
    return address.isascii() and '"' not in address


def partly_hidden(address):
    """``ann@example.org`` as ``a***@example.org``: enough to recognise one's own
    address, not enough to learn someone else's."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"
