//! Every diagnostic code, with a short title. Codes are stable: never renumber or reuse one.
//!
//! E00xx: the text cannot be read. E01xx: a name is unknown or used twice. E02xx: a value has the
//! wrong kind. E03xx: the flow of stages. E04xx: the pipeline header, calendars and the script.
//! A code that starts with W is a warning: the file still runs.

/// A diagnostic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code {
    /// The code as shown, e.g. `E0101`.
    pub id: &'static str,
    /// What kind of problem it is.
    pub title: &'static str,
}

macro_rules! codes {
    ($($name:ident = $id:literal, $title:literal;)*) => {
        $(
            #[doc = $title]
            pub const $name: Code = Code { id: $id, title: $title };
        )*
        /// Every code, for documentation and for the uniqueness test.
        pub const ALL: &[Code] = &[$($name),*];
    };
}

codes! {
    SYNTAX = "E0001", "the text does not follow the language";
    TOO_DEEP = "E0002", "brackets or strings nested too deeply";
    BAD_LITERAL = "E0003", "a date, time or number that does not exist";
    UNKNOWN_STAGE = "E0101", "unknown stage";
    UNKNOWN_FIELD = "E0102", "unknown field";
    UNKNOWN_ROLE = "E0103", "unknown role";
    UNKNOWN_EVENT = "E0104", "unknown event";
    UNKNOWN_TEMPLATE = "E0105", "unknown template";
    UNKNOWN_FUNCTION = "E0106", "unknown function";
    UNKNOWN_CALENDAR = "E0107", "unknown calendar";
    UNKNOWN_NAME = "E0108", "unknown name in an expression";
    DUPLICATE = "E0109", "a name is declared twice";
    UNKNOWN_TYPE = "E0110", "unknown field type";
    UNKNOWN_UNIT = "E0111", "unknown duration unit";
    UNKNOWN_WEEKDAY = "E0112", "unknown day of the week";
    UNKNOWN_RECIPIENT = "E0113", "unknown recipient";
    UNKNOWN_CHANNEL = "E0114", "unknown channel";
    UNKNOWN_PAYLOAD = "E0115", "the event carries no such value";
    EVENT_OUTSIDE_HANDLER = "E0116", "`event.` used where no event is being handled";
    UNKNOWN_MEMBER = "E0117", "a record has no such entry";
    UNKNOWN_TIMEZONE = "E0118", "unknown time zone";
    SET_TYPE = "E0201", "a value of the wrong kind is put into a field";
    NOT_A_CONDITION = "E0202", "a condition that is not yes or no";
    BAD_OPERANDS = "E0203", "an operator used on values it does not apply to";
    BAD_COMPARISON = "E0204", "two values that cannot be compared";
    ARITY = "E0205", "a function called with the wrong number of values";
    ARGUMENT_TYPE = "E0206", "a function given a value of the wrong kind";
    NOT_A_DURATION = "E0207", "a duration was expected";
    NOT_A_MOMENT = "E0208", "a date or a moment was expected";
    DEFAULT_TYPE = "E0209", "a default that does not fit the field";
    NOT_A_LIST = "E0210", "`for each` over something that is not a list";
    BAD_FORMAT = "E0211", "a date format that cannot be used";
    DERIVED_SET = "E0212", "a derived field set by hand";
    DERIVED_CIRCLE = "E0213", "derived fields computed from each other in a circle";
    DERIVED_MODIFIER = "E0214", "a derived field marked required, personal or with a default";
    UNREACHABLE_STAGE = "W0301", "no transition leads to this stage";
    NO_WAY_OUT = "E0302", "a stage that deals can never leave";
    JOIN_NEVER_COMPLETES = "E0303", "a join that can never be completed";
    SKIP_WITHOUT_EXIT = "E0304", "`skip` on a stage with no way out";
    EVENT_NEVER_HANDLED = "W0305", "an event that no stage handles";
    TRANSITION_SHADOWED = "W0306", "a transition that can never be taken";
    TEMPLATE_CHANNEL = "E0307", "a template has no text for that channel";
    NO_PIPELINE = "E0401", "the file has no pipeline";
    TWO_PIPELINES = "E0402", "the file has more than one pipeline";
    SETTING_TWICE = "E0403", "a pipeline setting given twice";
    SCRIPT_MISSING = "E0404", "the script file cannot be read";
    SCRIPT_ERROR = "E0405", "the script has an error";
    HOOK_SIGNATURE = "E0406", "the notify hook takes the wrong number of values";
    NO_TIMEZONE = "W0407", "no time zone";
    CALENDAR_RANGE = "E0408", "a range that ends before it starts";
    NO_STAGES = "E0409", "the pipeline has no stages";
    PHASE_OVERLAP = "W0410", "a stage in several phases";
    EMPTY_CALENDAR = "W0411", "a calendar without working days or hours";
    MIGRATION_TARGET = "E0412", "a migration into something that cannot take what it carries";
    MIGRATION_IDLE = "W0413", "a migration from a name the rules still have";
    UNKNOWN_COUNTRY = "E0414", "not a country phone numbers can belong to";
    MAP_ADDRESS = "E0415", "a map address that cannot take the place";
}

#[cfg(test)]
mod tests {
    use super::ALL;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique() {
        let mut seen = HashSet::new();
        for c in ALL {
            assert!(seen.insert(c.id), "code {} used twice", c.id);
            assert!(c.id.starts_with('E') || c.id.starts_with('W'));
        }
    }
}
