//! The import's map file (`--map MAP.toml`): which CSV column gives the deal's id, title, stage
//! and each field, how the old CRM's stage names become the pipeline's stages (and the tasks
//! there already done) and its people the team's, fixed values, and the formats its dates are
//! written in. Checked against the pipeline and against
//! the file's header before a row is read; then each row becomes a [`Creation`] or says why not.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::compile::Plan;
use crate::engine::Creation;
use crate::types::Ty;
use crate::value::Value;

/// A map file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MapFile {
    /// The column separator: one character (`,` by default; `;` in many Russian exports).
    #[serde(default = "comma")]
    pub delimiter: String,
    /// The file's encoding: `utf-8` (the default) or another WHATWG label (`windows-1251`,
    /// what Excel writes in a Russian Windows).
    #[serde(default = "utf8")]
    pub encoding: String,
    /// The column whose value (after `id_prefix`) is the deal's id; absent: new ids.
    #[serde(default)]
    pub id: Option<String>,
    /// Put before every id, so imported ids never meet dealflow's own (`b24-`).
    #[serde(default)]
    pub id_prefix: String,
    /// The column that titles the deal; absent or empty: the client's name, else the id.
    #[serde(default)]
    pub title: Option<String>,
    /// The column naming the stage; absent: every deal starts at the pipeline's first stage.
    #[serde(default)]
    pub stage: Option<String>,
    /// The old CRM's stage value → where its deals start (absent: the value is the stage's
    /// name).
    #[serde(default)]
    pub stages: BTreeMap<String, Landing>,
    /// Column → field (or role).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// The old CRM's people → team member ids, for `user` fields and roles; with their roles,
    /// the team of a database that has none yet.
    #[serde(default)]
    pub people: BTreeMap<String, Person>,
    /// Field → value every imported deal gets (`source = "bitrix24"`).
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Field → the chrono format its dates or moments are written in (`%d.%m.%Y`).
    #[serde(default)]
    pub formats: BTreeMap<String, String>,
}

fn comma() -> String {
    ",".into()
}

fn utf8() -> String {
    "utf-8".into()
}

/// Where the deals of an old CRM's stage start: the pipeline's stages, `&`-joined for
/// parallel tracks (`"billing & prepayment"`), or those and the tasks they make that the old
/// CRM says are done (`{ stages = "billing & production", done = ["approval", …] }`).
#[derive(Debug, Clone)]
pub(super) enum Landing {
    /// Only the stages.
    Stages(String),
    /// The stages and the work done.
    Done(Work),
}

/// Stages and the tasks done there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Work {
    /// The stages, `&`-joined.
    stages: String,
    /// Tasks made done at once.
    #[serde(default)]
    done: Vec<String>,
}

impl Landing {
    /// The stages, in order.
    fn stages(&self) -> Vec<String> {
        let text = match self {
            Landing::Stages(s) => s,
            Landing::Done(w) => &w.stages,
        };
        split_stages(text)
    }

    /// The tasks done.
    fn done(&self) -> &[String] {
        match self {
            Landing::Stages(_) => &[],
            Landing::Done(w) => &w.done,
        }
    }
}

/// `billing & prepayment` → `["billing", "prepayment"]`.
fn split_stages(text: &str) -> Vec<String> {
    text.split('&')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// One of the old CRM's people: the team member's id, or the id and the roles they have (the
/// team of a new database, until the daemon's configuration gives its own).
#[derive(Debug, Clone)]
pub(super) enum Person {
    /// `"Анна Смирнова" = "anna"`
    Id(String),
    /// `"Анна Смирнова" = { id = "anna", roles = ["sales"] }`
    Member(Member),
}

/// A team member as a map names them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Member {
    id: String,
    #[serde(default)]
    roles: Vec<String>,
}

/// A value that is a text or a table: the text as `text`, the table read as `T` (so that a
/// misspelt key is named, not "did not match any variant").
struct TextOrTable<T, F> {
    expecting: &'static str,
    text: F,
    table: std::marker::PhantomData<T>,
}

impl<'de, T, F, O> serde::de::Visitor<'de> for TextOrTable<T, F>
where
    T: Deserialize<'de> + Into<O>,
    F: FnOnce(String) -> O,
{
    type Value = O;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<O, E> {
        Ok((self.text)(v.to_string()))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<O, A::Error> {
        T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Into::into)
    }
}

impl From<Work> for Landing {
    fn from(w: Work) -> Self {
        Landing::Done(w)
    }
}

impl From<Member> for Person {
    fn from(m: Member) -> Self {
        Person::Member(m)
    }
}

impl<'de> Deserialize<'de> for Landing {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextOrTable::<Work, _> {
            expecting: "stages (`\"billing & prepayment\"`) or `{ stages = \"…\", done = [\"task\", …] }`",
            text: Landing::Stages,
            table: std::marker::PhantomData,
        })
    }
}

impl<'de> Deserialize<'de> for Person {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextOrTable::<Member, _> {
            expecting: "a team member's id (`\"anna\"`) or `{ id = \"anna\", roles = [\"sales\"] }`",
            text: Person::Id,
            table: std::marker::PhantomData,
        })
    }
}

impl Person {
    fn id(&self) -> &str {
        match self {
            Person::Id(id) | Person::Member(Member { id, .. }) => id,
        }
    }

    fn roles(&self) -> &[String] {
        match self {
            Person::Id(_) => &[],
            Person::Member(m) => &m.roles,
        }
    }
}

/// What a field or role takes.
fn target(plan: &Plan, name: &str) -> Option<Ty> {
    match plan.field_index.get(name) {
        Some(&f) => Some(plan.fields[f].ty.clone()),
        None => plan.role_index.contains_key(name).then_some(Ty::User),
    }
}

impl MapFile {
    /// The delimiter as a byte, or why not.
    pub(super) fn delimiter(&self) -> Result<u8, String> {
        match self.delimiter.as_bytes() {
            [b] if b.is_ascii() => Ok(*b),
            _ => Err(format!(
                "`delimiter = \"{}\"` must be one character, like \",\" or \";\"",
                self.delimiter
            )),
        }
    }

    /// The file's encoding, or why not.
    pub(super) fn encoding(&self) -> Result<&'static encoding_rs::Encoding, String> {
        encoding_rs::Encoding::for_label(self.encoding.trim().as_bytes()).ok_or_else(|| {
            format!(
                "`encoding = \"{}\"` is not an encoding; `utf-8` or `windows-1251`, for instance",
                self.encoding
            )
        })
    }

    /// Every problem of the map against the pipeline: unknown fields, stages, formats.
    pub(super) fn check(&self, plan: &Plan) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = self.delimiter() {
            out.push(e);
        }
        if let Err(e) = self.encoding() {
            out.push(e);
        }
        for (column, field) in &self.fields {
            if target(plan, field).is_none() {
                out.push(format!(
                    "[fields] `{column}` = `{field}`: the pipeline has no field or role `{field}`"
                ));
            }
        }
        for field in self.set.keys() {
            if !plan.field_index.contains_key(field) {
                out.push(format!(
                    "[set] `{field}`: the pipeline has no field `{field}`"
                ));
            }
        }
        let tasks = plan.task_ids();
        for (old, landing) in &self.stages {
            let stages = landing.stages();
            if stages.is_empty() {
                out.push(format!("[stages] `{old}`: no stage named"));
            }
            for stage in stages {
                if !plan.stage_index.contains_key(&stage) {
                    out.push(format!(
                        "[stages] `{old}`: the pipeline has no stage `{stage}`"
                    ));
                }
            }
            for task in landing.done() {
                if !tasks.contains(task.as_str()) {
                    out.push(format!(
                        "[stages] `{old}`: done `{task}`: the pipeline makes no task `{task}` \
                         (its tasks: {})",
                        tasks.iter().copied().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
        for (name, person) in &self.people {
            for role in person.roles() {
                if !plan.role_index.contains_key(role) {
                    out.push(format!(
                        "[people] `{name}`: the pipeline has no role `{role}`"
                    ));
                }
            }
        }
        for (field, format) in &self.formats {
            match target(plan, field) {
                Some(Ty::Date | Ty::DateTime) => {
                    let probe = chrono::NaiveDate::from_ymd_opt(2026, 3, 2)
                        .and_then(|d| d.and_hms_opt(15, 4, 5))
                        .map(|t| t.format(format).to_string());
                    if probe.is_none_or(|p| p.is_empty()) {
                        out.push(format!(
                            "[formats] `{field}`: `{format}` is not a date format"
                        ));
                    }
                }
                _ => out.push(format!(
                    "[formats] `{field}`: a format is for a `date` or `datetime` field"
                )),
            }
        }
        out
    }

    /// The team its `[people]` make (a member per id, with every role given to that id), for
    /// a database that has none yet.
    pub(super) fn team(&self) -> Vec<crate::team::Member> {
        let mut out: Vec<crate::team::Member> = Vec::new();
        for (name, person) in &self.people {
            let member = match out.iter_mut().find(|m| m.id == person.id()) {
                Some(m) => m,
                None => {
                    out.push(crate::team::Member {
                        id: person.id().to_string(),
                        name: name.clone(),
                        roles: Vec::new(),
                        email: None,
                        phone: None,
                        telegram: None,
                        notices: false,
                        rate: Default::default(),
                    });
                    let last = out.len() - 1;
                    &mut out[last]
                }
            };
            for role in person.roles() {
                if !member.roles.contains(role) {
                    member.roles.push(role.clone());
                }
            }
        }
        out
    }

    /// The first column that names a person (a `user` field or a role), and what it fills.
    pub(super) fn people_column(&self, plan: &Plan) -> Option<(&str, &str)> {
        self.fields
            .iter()
            .find(|(_, field)| target(plan, field) == Some(Ty::User))
            .map(|(c, f)| (c.as_str(), f.as_str()))
    }

    /// The columns the map reads that the file's header lacks.
    pub(super) fn missing_columns(&self, header: &[String]) -> Vec<String> {
        let named = self
            .id
            .iter()
            .chain(&self.title)
            .chain(&self.stage)
            .chain(self.fields.keys());
        named
            .filter(|c| !header.iter().any(|h| h == *c))
            .cloned()
            .collect()
    }

    /// The id a row's deal would get, as far as it can be told (for a refusal's line).
    pub(super) fn row_id(&self, header: &[String], row: &csv::StringRecord) -> String {
        self.id
            .as_deref()
            .and_then(|c| header.iter().position(|h| h == c))
            .and_then(|i| row.get(i))
            .map(|v| format!("{}{}", self.id_prefix, v.trim()))
            .unwrap_or_default()
    }

    /// A row as a deal to create (started quietly unless `actions`), or why it cannot be one.
    pub(super) fn creation(
        &self,
        plan: &Plan,
        header: &[String],
        row: &csv::StringRecord,
        actions: bool,
    ) -> Result<Creation, String> {
        let cell = |column: &str| {
            header
                .iter()
                .position(|h| h == column)
                .and_then(|i| row.get(i))
        };
        // An id, a stage, a number, a date: what surrounds them is noise. The `'` a
        // spreadsheet-safe export put before a cell that begins like a formula is taken off
        // (`'=x` is the text `=x`, as exported).
        let get = |column: &str| {
            cell(column)
                .map(|v| crate::sheet::unescape(v.trim()))
                .filter(|v| !v.is_empty())
        };
        // A text is kept as written, but for the spaces around it: a leading tab is part of
        // it (`\t=x` stays `\t=x`, never the formula `=x`).
        let text = |column: &str| {
            cell(column)
                .map(|v| crate::sheet::unescape(v.trim_start_matches(' ').trim_end()))
                .filter(|v| !v.trim().is_empty())
        };
        let id = match self.id.as_deref().and_then(get) {
            Some(v) => {
                let id = format!("{}{v}", self.id_prefix);
                if !crate::daemon::valid_deal_id(&id) {
                    return Err(format!("`{id}` cannot be a deal id"));
                }
                id
            }
            None => crate::daemon::new_deal_id(),
        };
        let (stages, done) = match self.stage.as_deref() {
            None => (Vec::new(), Vec::new()),
            Some(column) => match get(column) {
                None => return Err(format!("no stage in column `{column}`")),
                Some(v) if self.stages.is_empty() => (split_stages(v), Vec::new()),
                Some(v) => match self.stages.get(v) {
                    Some(s) => (s.stages(), s.done().to_vec()),
                    None => return Err(format!("stage `{v}` is not in the map's [stages]")),
                },
            },
        };
        let mut fields = BTreeMap::new();
        for (column, field) in &self.fields {
            let ty = target(plan, field).unwrap_or(Ty::Text);
            let read = if ty == Ty::Text {
                text(column)
            } else {
                get(column)
            };
            let Some(v) = read else { continue };
            let value = self
                .value(field, &ty, v)
                .map_err(|e| format!("column `{column}`: {e}"))?;
            fields.insert(field.clone(), value);
        }
        for (field, v) in &self.set {
            fields.insert(field.clone(), Value::Text(v.clone()));
        }
        let title = self
            .title
            .as_deref()
            .and_then(get)
            .map(str::to_string)
            .or_else(|| match fields.get("client_name") {
                Some(Value::Text(t)) => Some(t.clone()),
                _ => None,
            })
            .unwrap_or_else(|| id.clone());
        Ok(Creation {
            id,
            title: title.split_whitespace().collect::<Vec<_>>().join(" "),
            stages,
            fields,
            quiet: !actions,
            done,
        })
    }

    /// A cell as the value the engine takes for a field of `ty`: numbers without spaces and
    /// with a decimal point, yes/no as true/false, dates in the map's format rewritten.
    fn value(&self, field: &str, ty: &Ty, v: &str) -> Result<Value, String> {
        Ok(Value::Text(match ty {
            Ty::Int | Ty::Decimal | Ty::Money => {
                let mut n: String = v
                    .chars()
                    .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}')
                    .collect();
                if !n.contains('.') && n.matches(',').count() == 1 {
                    n = n.replace(',', ".");
                }
                if n.parse::<rust_decimal::Decimal>().is_err() {
                    return Err(format!("`{v}` is not a number"));
                }
                n
            }
            Ty::Bool => match v.to_lowercase().as_str() {
                "y" | "yes" | "да" | "true" | "1" => "true".into(),
                "n" | "no" | "нет" | "false" | "0" => "false".into(),
                _ => return Err(format!("`{v}` is not yes or no")),
            },
            Ty::User => self
                .people
                .get(v)
                .map_or_else(|| v.to_string(), |p| p.id().to_string()),
            Ty::Date => match self.formats.get(field) {
                None => v.to_string(),
                Some(f) => chrono::NaiveDate::parse_from_str(v, f)
                    .or_else(|_| chrono::NaiveDateTime::parse_from_str(v, f).map(|t| t.date()))
                    .map_err(|_| format!("`{v}` is not a date written as `{f}`"))?
                    .format("%Y-%m-%d")
                    .to_string(),
            },
            Ty::DateTime => match self.formats.get(field) {
                None => v.to_string(),
                Some(f) => chrono::NaiveDateTime::parse_from_str(v, f)
                    .map_err(|_| format!("`{v}` is not a moment written as `{f}`"))?
                    .format("%Y-%m-%dT%H:%M:%S")
                    .to_string(),
            },
            _ => v.to_string(),
        }))
    }
}
