//! Staff notices: the person a task is given to (when it is made, or handed to them) hears of
//! it on the channel of their team entry — Telegram when they have a chat there, else email —
//! with the deal's title, the deadline and a link to the deal's page (the daemon's public
//! address). On unless their entry says `notices = false`; nothing when they have no address
//! on that channel. A notice is a notification like any other: recorded in the history and the
//! timeline (template `task_assigned`), passed through the pipeline's notify hook (quiet
//! hours), sent by the outbox. Its words are signs, not a language: `☐` the task, `⏰` its due.

use super::Stepper;
use crate::compile::Channel;
use crate::engine::StepError;

/// The template name notices are recorded with.
const TASK_NOTICE: &str = "task_assigned";

impl Stepper<'_> {
    /// Tells the assignee of task `idx` it is theirs.
    pub(super) fn task_notice(&mut self, idx: usize, line: Option<usize>) -> Result<(), StepError> {
        let Some(task) = self.deal.tasks.get(idx).cloned() else {
            return Ok(());
        };
        let Some(member) = task
            .assignee
            .as_deref()
            .and_then(|a| self.ctx.team.member(a))
        else {
            return Ok(());
        };
        if !member.notices {
            return Ok(());
        }
        let (channel, to) = match (&member.telegram, &member.email) {
            (Some(chat), _) => (Channel::Telegram, chat.clone()),
            (None, Some(email)) => (Channel::Email, email.clone()),
            (None, None) => return Ok(()),
        };
        let mut lines = vec![format!("☐ {}", task.title), self.deal.title.to_string()];
        if let Some(due) = task.due {
            let local = due.with_timezone(&self.ctx.plan.tz);
            lines.push(format!("⏰ {}", local.format("%d.%m.%Y %H:%M")));
        }
        if let Some(site) = self.ctx.site {
            lines.push(format!(
                "{site}/deals/{}",
                percent_encoding::utf8_percent_encode(
                    &self.deal.id,
                    percent_encoding::NON_ALPHANUMERIC
                )
            ));
        }
        let subject =
            (channel == Channel::Email).then(|| format!("☐ {} · {}", task.title, self.deal.title));
        let msg = super::actions::Message {
            to_kind: "user",
            to,
            channel: channel.name(),
            template: TASK_NOTICE.to_string(),
            subject,
            text: lines.join("\n"),
            send_at: self.ctx.now,
        };
        self.queue(msg, Vec::new(), member.id.clone(), line)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::engine::{self, Creation, Ctx, Kind};
    use crate::source::SourceFile;
    use crate::team::{Member, Team};

    #[test]
    fn the_notice_links_to_the_deal_page_of_the_public_address() {
        let text = "pipeline p \"P\" { timezone \"Europe/Moscow\" }\nrole maker \"Maker\"\n\
                    fields { name: text }\nstage s \"S\" final {\n  on enter { task t \"Saw\" to maker due 1h }\n}\n";
        let ready = crate::prepare(&SourceFile::new("p.flow", text), &|_| Err("none".into()))
            .expect("a pipeline");
        let team = Team {
            members: vec![Member {
                id: "mo".into(),
                name: "Mo".into(),
                roles: vec!["maker".into()],
                email: Some("mo@w.test".into()),
                phone: None,
                telegram: None,
                notices: true,
                rate: Default::default(),
            }],
            ..Default::default()
        };
        let now = chrono::DateTime::parse_from_rfc3339("2026-03-02T08:00:00Z")
            .expect("a moment")
            .to_utc();
        let ctx = Ctx {
            plan: &ready.plan,
            team: &team,
            script: None,
            now,
            site: Some("https://crm.studio.test"),
        };
        let deal = Creation {
            id: "ivan/1".into(),
            title: "Table".into(),
            stages: vec![],
            fields: BTreeMap::new(),
            quiet: false,
        };
        let out = engine::create(ctx, &deal).expect("created");
        let notice = out
            .records
            .iter()
            .find_map(|r| match &r.kind {
                Kind::Notification { text, subject, .. } => Some((text.clone(), subject.clone())),
                _ => None,
            })
            .expect("a notice");
        assert_eq!(
            notice.0,
            "☐ Saw\nTable\n⏰ 02.03.2026 12:00\nhttps://crm.studio.test/deals/ivan%2F1"
        );
        assert_eq!(notice.1.as_deref(), Some("☐ Saw · Table"));
    }
}
