"""What Schemathesis cannot know from the document alone: how to write the two formats the
document names that JSON Schema does not define. `phone` is a number the pipeline's phone
reader takes (here Russian mobile numbers, as the reference pipeline's clients write them);
`local-date-time` is a moment in the pipeline's time zone without an offset. The server checks
both with its own readers; these only let the tester write valid ones too."""

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
