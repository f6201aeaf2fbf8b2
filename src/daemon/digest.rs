//! The daily digest (`[tasks] digest_at`): once a day at that local time (on the pipeline's
//! workdays, or every day with `digest_days = "daily"`), each team member who hears staff
//! notices and has open tasks gets one message listing them — those past their deadline first
//! (`❗`), then by deadline (`⏰`), each with its deal and a link to the deal's page. Sent once
//! however many daemons run (a mark in `meta`, claimed in the transaction that queues the
//! messages); a daemon started after the hour sends that day's digest then. It belongs to no
//! deal, so no deal's history holds it: the outbox and its metrics do.

use chrono::{DateTime, NaiveTime, Utc};

use super::core::Core;
use crate::compile::Plan;
use crate::store::{OpenTask, StaffMessage, StoreError};

/// The template name digests are queued with.
const TEMPLATE: &str = "task_digest";

/// Queues today's digest when its time has come and no daemon has yet; how many messages.
pub(crate) async fn digest(
    core: &Core,
    at: NaiveTime,
    daily: bool,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let rules = core.rules();
    let plan = &rules.ready.plan;
    let local = now.with_timezone(&plan.tz);
    let today = local.date_naive();
    if local.time() < at || !(daily || plan.calendar.is_workday(today)) {
        return Ok(0);
    }
    let day = today.format("%Y-%m-%d").to_string();
    {
        let mut tx = core.store().read().await?;
        if tx.mark(MARK).await?.as_deref() >= Some(day.as_str()) {
            return Ok(0);
        }
    }
    let mut tx = core.store().begin().await?;
    if !tx.claim_day(MARK, &day).await? {
        return Ok(0);
    }
    let tasks = tx.open_tasks().await?;
    let team = tx.team().await?;
    let mut sent = 0;
    for m in team.members.iter().filter(|m| m.notices) {
        let (channel, to) = match (&m.telegram, &m.email) {
            (Some(chat), _) => ("telegram", chat.as_str()),
            (None, Some(email)) => ("email", email.as_str()),
            (None, None) => continue,
        };
        let mine: Vec<&OpenTask> = tasks.iter().filter(|t| t.assignee == m.id).collect();
        if mine.is_empty() {
            continue;
        }
        let (subject, body) = text(plan, &mine, core.site(), now);
        let msg = StaffMessage {
            dedupe: format!("digest:{day}:{}", m.id),
            channel,
            to,
            template: TEMPLATE,
            subject: (channel == "email").then_some(subject),
            body,
        };
        tx.queue_staff_message(&msg, now).await?;
        sent += 1;
    }
    tx.commit().await?;
    if sent > 0 {
        tracing::info!(day = %day, messages = sent, "the daily digest of open tasks is queued");
    }
    Ok(sent)
}

/// The mark of the last day whose digest was queued.
const MARK: &str = "digest";

/// The subject and text of one person's digest: signs, not a language.
fn text(
    plan: &Plan,
    tasks: &[&OpenTask],
    site: Option<&str>,
    now: DateTime<Utc>,
) -> (String, String) {
    let mut tasks = tasks.to_vec();
    // Past their deadline first, then by deadline; those without one last.
    tasks.sort_by_key(|t| (t.due.is_none_or(|d| d > now), t.due.is_none(), t.due));
    let day = now.with_timezone(&plan.tz).format("%d.%m.%Y");
    let subject = format!("☐ {} · {day}", tasks.len());
    let mut lines = vec![subject.clone()];
    for t in tasks {
        let sign = if t.due.is_some_and(|d| d <= now) {
            "❗"
        } else {
            "☐"
        };
        let mut line = format!("{sign} {} · {}", t.title, t.deal_title);
        if let Some(due) = t.due {
            let local = due.with_timezone(&plan.tz);
            line.push_str(&format!(" · ⏰ {}", local.format("%d.%m.%Y %H:%M")));
        }
        lines.push(line);
        if let Some(site) = site {
            lines.push(format!(
                "{site}/deals/{}",
                percent_encoding::utf8_percent_encode(&t.deal, percent_encoding::NON_ALPHANUMERIC)
            ));
        }
    }
    (subject, lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_late_come_first_then_by_deadline_each_with_its_deal() {
        let flow = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/web-studio.flow");
        let ready = crate::load::RuleFile::read(&flow)
            .expect("readable")
            .ready()
            .expect("valid");
        let at = |s: &str| DateTime::parse_from_rfc3339(s).expect("a moment").to_utc();
        let task = |deal: &str, title: &str, due: Option<&str>| OpenTask {
            deal: deal.into(),
            deal_title: format!("Deal {deal}"),
            title: title.into(),
            assignee: "anna".into(),
            due: due.map(at),
        };
        let tasks = [
            task("a/1", "Later", Some("2026-12-09T07:00:00Z")),
            task("b", "Whenever", None),
            task("c", "Late", Some("2026-12-04T06:30:00Z")),
        ];
        let refs: Vec<&OpenTask> = tasks.iter().collect();
        let (subject, body) = text(
            &ready.plan,
            &refs,
            Some("https://crm.test"),
            at("2026-12-07T06:00:00Z"),
        );
        assert_eq!(subject, "☐ 3 · 07.12.2026");
        assert_eq!(
            body,
            "☐ 3 · 07.12.2026\n\
             ❗ Late · Deal c · ⏰ 04.12.2026 09:30\nhttps://crm.test/deals/c\n\
             ☐ Later · Deal a/1 · ⏰ 09.12.2026 10:00\nhttps://crm.test/deals/a%2F1\n\
             ☐ Whenever · Deal b\nhttps://crm.test/deals/b"
        );
    }
}
