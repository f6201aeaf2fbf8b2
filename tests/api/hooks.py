"""Realistic values for the two formats the document names that JSON Schema does not define.
The document gives each a pattern of exactly what the server takes (the test runs Schemathesis
once more without these hooks, from the patterns alone); these make the values a studio sends:
`phone` as Russian mobile numbers are written, `local-date-time` a moment in the pipeline's time
zone without an offset, in years a deal lives in."""

from datetime import datetime

import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.format(
    "phone",
    st.builds(
        lambda n, style: style.format(n[:3], n[3:6], n[6:8], n[8:]),
        st.from_regex(r"\A9[0-9]{9}\Z"),
        st.sampled_from(["+7{}{}{}{}", "+7 {} {}-{}-{}", "+7 ({}) {}-{}-{}"]),
    ),
)

schemathesis.openapi.format(
    "local-date-time",
    st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(2099, 12, 31),
    ).map(lambda t: t.strftime("%Y-%m-%dT%H:%M")),
)
