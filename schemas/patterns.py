"""JSON Schema patterns for the rules Python states in code (trimming, digits).

The custom fields in ``schemas/fields.py`` use these to say in their own
``openapi_rules`` exactly what they accept.
"""

# What Python's str.strip() removes (str.isspace). Spelled out because ``\s``
# means less in the ECMA-262 patterns of JSON Schema (no U+001C-U+001F, U+0085)
# and more (U+FEFF), so a client could not tell what the service trims.
PYTHON_WHITESPACE = (
    r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)

# Text without U+0000, which the service refuses in every string (400 naming it).
NO_NUL_PATTERN = r"^[^\x00]*$"

# A price as a decimal string: 0 to 1000000 with at most two significant decimal
# places ("1.230" is 1.23, "-0" is 0), optionally surrounded by white space.
PRICE_PATTERN = (
    f"^[{PYTHON_WHITESPACE}]*"
    r"(?:0*(?:[0-9]{1,6}(?:\.[0-9]{1,2}0*)?|1000000(?:\.0+)?)|-0+(?:\.0+)?)"
    f"[{PYTHON_WHITESPACE}]*$"
)


def trimmed_length_pattern(minimum, maximum):
    """A pattern for "at least ``minimum``, at most ``maximum`` characters once
    surrounding white space is trimmed": the core starts and ends with a
    non-space character and may hold anything between but U+0000."""
    space, solid, anything = f"[{PYTHON_WHITESPACE}]", f"[^{PYTHON_WHITESPACE}\\x00]", r"[^\x00]"
    between = f"{{{max(minimum - 2, 0)},{'' if maximum is None else max(maximum - 2, 0)}}}"
    if minimum >= 2:
        core = f"{solid}{anything}{between}{solid}"
    elif maximum == 1:
        core = solid
    else:
        core = f"{solid}(?:{anything}{between}{solid})?"
        if minimum == 0:
            core = f"(?:{core})?"
    return f"^{space}*{core}{space}*$"


def id_list_pattern(maximum, max_digits):
    """Comma-separated positive ids of at most ``max_digits`` digits (leading zeros
    count), at most ``maximum`` of them, white space around each allowed."""
    space = f"[{PYTHON_WHITESPACE}]*"
    positive = "|".join(
        f"0{{{zeros}}}[1-9][0-9]{{0,{max_digits - 1 - zeros}}}" for zeros in range(max_digits)
    )
    one = f"{space}(?:{positive}){space}"
    return f"^{one}(?:,{one}){{0,{maximum - 1}}}$"
