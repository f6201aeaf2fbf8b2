//! Test results as JUnit XML, the report CI services read: one `<testsuite>` per test file, one
//! `<testcase>` per expectation; a file that could not be run is a suite with an `<error>`.

use std::fmt::Write;

use super::FileRun;

/// The JUnit XML report of `runs` under the pipeline `flow`.
pub fn report(flow: &str, runs: &[FileRun]) -> String {
    let (mut tests, mut failures, mut errors) = (0, 0, 0);
    for r in runs {
        let (passed, failed) = r.counts();
        tests += passed + failed;
        failures += failed;
        if r.result.is_err() {
            tests += 1;
            errors += 1;
        }
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">",
        escape(&format!("dealflow test {flow}"))
    );
    for r in runs {
        suite(&mut out, r);
    }
    out.push_str("</testsuites>\n");
    out
}

fn suite(out: &mut String, r: &FileRun) {
    let file = escape(&r.name);
    let (passed, failed) = r.counts();
    let error = usize::from(r.result.is_err());
    let _ = writeln!(
        out,
        "  <testsuite name=\"{file}\" tests=\"{}\" failures=\"{failed}\" errors=\"{error}\">",
        passed + failed + error
    );
    match &r.result {
        Err(why) => {
            let _ = writeln!(
                out,
                "    <testcase classname=\"{file}\" name=\"read\" file=\"{file}\">\n      \
                 <error message=\"the test file could not be run\">{}</error>\n    </testcase>",
                escape(why)
            );
        }
        Ok(outcomes) => {
            for o in outcomes {
                let name = escape(&format!("line {}: {}", o.line, o.title()));
                let _ = write!(
                    out,
                    "    <testcase classname=\"{file}\" name=\"{name}\" file=\"{file}\" line=\"{}\"",
                    o.line
                );
                if o.passed() {
                    out.push_str("/>\n");
                    continue;
                }
                let text = escape(&o.failures.join("\n"));
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\">{text}</failure>\n    </testcase>",
                    escape(&o.failures[0])
                );
            }
        }
    }
    if r.broken_steps > 0 {
        let first = r.first_broken.as_deref().unwrap_or_default();
        let _ = writeln!(
            out,
            "    <system-err>{}</system-err>",
            escape(&format!(
                "{} step(s) broke; the first: {first}",
                r.broken_steps
            ))
        );
    }
    out.push_str("  </testsuite>\n");
}

/// Text for an XML attribute or element: markup characters as entities, characters XML 1.0
/// cannot hold as U+FFFD.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_and_control_characters_cannot_break_the_document() {
        assert_eq!(
            escape("a<b>&\"c'\u{1}\nd"),
            "a&lt;b&gt;&amp;&quot;c&apos;\u{FFFD}&#10;d"
        );
    }
}
